import DriverKit
import Foundation

/// The host's network devices through `ip`: each call makes one device look as asked and does
/// nothing when it already does, so a backend can replay its whole desired state at any time.
enum Links {
    static func exists(_ name: String) -> Bool { TapDevice.exists(name) }

    static func mtu(_ name: String) -> Int? {
        (try? String(contentsOfFile: "/sys/class/net/\(name)/mtu", encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// A bridge with no address of the host's on it: no IPv6 link-local address (guests would
    /// reach the host's services on `::`) and no router advertisement from a guest taken. Its IP
    /// traffic goes through the host's netfilter hooks, where security groups are.
    static func bridge(_ name: String, mtu: Int, up: Bool) async throws {
        if !exists(name) { try await ip("link", "add", "name", name, "type", "bridge") }
        try await ip("link", "set", "dev", name, "type", "bridge", "nf_call_iptables", "1", "nf_call_ip6tables", "1")
        let ipv6 = "/proc/sys/net/ipv6/conf/\(name)/disable_ipv6"
        if FileManager.default.fileExists(atPath: ipv6) { try Data("1".utf8).write(to: URL(fileURLWithPath: ipv6)) }
        try await ip("link", "set", "dev", name, "mtu", "\(mtu)", up ? "up" : "down")
    }

    /// A port's tap, made here when the hypervisor has not made it yet (it opens it by name).
    static func tap(_ name: String, bridge: String, mtu: Int, up: Bool) async throws {
        try await TapDevice.ensure(name)
        try await ip("link", "set", "dev", name, "master", bridge, "mtu", "\(mtu)", up ? "up" : "down")
    }

    static func exists(_ name: String, in namespace: String) async -> Bool {
        guard Namespaces.exists(namespace) else { return false }
        return (try? await HostCommand.output(["ip", "-n", namespace, "link", "show", "dev", name]))?.status == 0
    }

    /// A veth pair: `outside` on `bridge`, `inside` in `namespace` with the port's MAC.
    static func veth(_ outside: String, peer inside: String, namespace: String, bridge: String, mtu: Int, mac: String) async throws {
        if !exists(outside) { try await ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", namespace) }
        try await ip("link", "set", "dev", outside, "master", bridge, "mtu", "\(mtu)", "up")
        try await ip("-n", namespace, "link", "set", "dev", inside, "address", mac, "mtu", "\(mtu)", "up")
    }

    /// Gives `device` in `namespace` exactly these addresses (`ip/prefix`, IPv4 or IPv6; its
    /// link-local address stays). An IPv6 one skips duplicate address detection: the cloud's
    /// address management gave it, and a tentative address would not serve for a second.
    static func setAddresses(_ device: String, in namespace: String, _ addresses: [String]) async throws {
        let listed = try await HostCommand.run(["ip", "-n", namespace, "-o", "addr", "show", "dev", device, "scope", "global"], failure: { .transient($0) })
        let have = Set(listed.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard let at = words.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), at + 1 < words.count else { return nil }
            return String(words[at + 1])
        })
        let wanted = Set(addresses.map(IPPrefix.canonical))
        for stale in have.subtracting(wanted) { try await ip("-n", namespace, "addr", "delete", stale, "dev", device) }
        for address in wanted.subtracting(have) {
            try await ip(["-n", namespace, "addr", "add", address, "dev", device] + (address.contains(":") ? ["nodad"] : []))
        }
    }

    /// The devices in a namespace, by name.
    static func names(in namespace: String) async throws -> [String] {
        let listed = try await HostCommand.run(["ip", "-n", namespace, "-o", "link", "show"], failure: { .transient($0) })
        // "2: qr-1234@if5: <...": the name, without the peer's index.
        return listed.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count > 1 else { return nil }
            return String(words[1].dropLast().split(separator: "@").first ?? "")
        }
    }

    static func delete(_ name: String) async throws {
        guard exists(name) else { return }
        try await ip("link", "delete", "dev", name)
    }

    private static func ip(_ arguments: String...) async throws { try await ip(arguments) }

    private static func ip(_ arguments: [String]) async throws {
        // The kernel refusing a change now (a device being made or removed by another) may pass.
        try await HostCommand.run(["ip"] + arguments, failure: { .transient($0) })
    }
}
