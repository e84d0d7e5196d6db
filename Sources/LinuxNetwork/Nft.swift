import DriverKit
import Foundation

/// `nft -f`: a list of commands applied as one transaction (whole or not at all), in the host's
/// network namespace or in a named one.
enum Nft {
    /// The name of a backend's tables, from its runtime folder (nft names take letters, digits
    /// and underscores): two clouds on one host keep to their own.
    static func table(runtime: String) -> String {
        "martlet_" + String(URL(fileURLWithPath: runtime).lastPathComponent.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func run(_ lines: [String], namespace: String? = nil) async throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-nft-\(UUID().uuidString).nft").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: script))
        defer { try? FileManager.default.removeItem(atPath: script) }
        let inside = namespace.map { ["ip", "netns", "exec", $0] } ?? []
        try await HostCommand.run(inside + ["nft", "-f", script], failure: { .transient($0) })
    }
}
