import Foundation

/// A server port's tap device. The hypervisor and the network backend may both make it, in either
/// order and at the same moment: whoever comes second finds it made.
public enum TapDevice {
    public static func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: "/sys/class/net/\(name)") }

    /// Makes the tap unless it exists; true when this call made it.
    @discardableResult
    public static func ensure(_ name: String) async throws -> Bool {
        guard !exists(name) else { return false }
        do {
            try await HostCommand.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"])
            return true
        } catch where exists(name) {
            return false
        }
    }

    public static func delete(_ name: String) async throws {
        guard exists(name) else { return }
        do {
            try await HostCommand.run(["ip", "link", "delete", "dev", name])
        } catch where !exists(name) {}
    }
}
