import DriverKit
import Foundation

/// The config drive: an ISO 9660 image labelled `config-2` holding the server's instance data,
/// as Nova writes it (cloud-init and cirros look for that label).
enum ConfigDrive {
    static func write(_ files: [String: Data], to path: String) async throws {
        let staging = path + ".d"
        try? FileManager.default.removeItem(atPath: staging)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        for (name, content) in files {
            // Paths come from Compute; still, nothing may land outside the staging folder.
            guard !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
                throw DriverError.invalidInput("config drive path \(name) is not relative")
            }
            let file = URL(fileURLWithPath: "\(staging)/\(name)")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: file)
        }
        try await HostCommand.run(["genisoimage", "-o", path, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
                                   "-V", "config-2", "-r", "-J", "-quiet", staging])
    }
}
