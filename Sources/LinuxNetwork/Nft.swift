import DriverKit
import Foundation

/// `nft -f`: a list of commands applied as one transaction (whole or not at all), in the host's
/// network namespace or in a named one.
enum Nft {
    static func run(_ lines: [String], namespace: String? = nil) async throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-nft-\(UUID().uuidString).nft").path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: script))
        defer { try? FileManager.default.removeItem(atPath: script) }
        let inside = namespace.map { ["ip", "netns", "exec", $0] } ?? []
        try await HostCommand.run(inside + ["nft", "-f", script], failure: { .transient($0) })
    }
}
