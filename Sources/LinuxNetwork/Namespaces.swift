import DriverKit
import Foundation

/// Named network namespaces (`ip netns`), as Neutron's agents name them: `qdhcp-<network>`, `qrouter-<router>`.
enum Namespaces {
    static func dhcp(network id: String) -> String { "qdhcp-\(id)" }
    static func router(_ id: String) -> String { "qrouter-\(id)" }

    static func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: "/run/netns/\(name)") }

    static func ensure(_ name: String) async throws {
        if !exists(name) { try await HostCommand.run(["ip", "netns", "add", name], failure: { .transient($0) }) }
        try await HostCommand.run(["ip", "-n", name, "link", "set", "lo", "up"], failure: { .transient($0) })
    }

    static func delete(_ name: String) async throws {
        guard exists(name) else { return }
        try await HostCommand.run(["ip", "netns", "delete", name], failure: { .transient($0) })
    }
}
