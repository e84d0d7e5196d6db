import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// VXLAN against the kernel: a namespace stands in for a peer host on an underlay of the test's
/// own (192.0.2.0/24, which leads nowhere). Frames tunnelled from the peer reach the network's
/// guest; the same frames from an address that is not a peer are dropped before the kernel's
/// VXLAN socket sees them.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .oneBackendAtATime)
struct TunnelTests {
    static let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-tunnel-\(getpid())").path
    let backend = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime, tunnelIP: "192.0.2.1", tunnelPeers: ["192.0.2.2"])

    /// Sends, from `source` in `namespace`, a tunnelled ARP request for the guest's address, as
    /// `asker` (a MAC and address no one else has): a guest that gets it learns `asker`.
    static func tunnelledARP(from source: String, in namespace: String, vni: Int, asking guest: String, as asker: String) async throws {
        let script = """
        import socket, struct, sys
        source, asker, guest, vni = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        mac = bytes.fromhex('02aabbccdd01')
        frame = b'\\xff' * 6 + mac + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + socket.inet_aton(asker) \\
            + b'\\x00' * 6 + socket.inet_aton(guest)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.sendto(struct.pack('!II', 0x08000000, vni << 8) + frame, ('192.0.2.1', 4789))
        """
        try await HostCommand.run(["ip", "netns", "exec", namespace, "python3", "-c", script, source, asker, guest, "\(vni)"])
    }

    static func knows(_ guest: Guest, _ address: String) async -> Bool {
        ((try? await HostCommand.output(["ip", "-n", guest.namespace, "neigh", "show", address]))?.stdout ?? "").contains("lladdr")
    }

    @Test func aVXLANNetworkReachesItsPeersAndNoOneElse() async throws {
        let peer = "mtp-\(getpid())"
        var network = LinuxNetworkTests.network("vxlan", vni: 4242, mtu: 1450)
        network.subnets = [SubnetPlan(id: UUID().uuidString.lowercased(), cidr: "10.42.0.0/24", gatewayIP: nil, allocationPools: [],
                                      enableDHCP: false, dnsNameservers: [], hostRoutes: [], ipv6RAMode: nil, ipv6AddressMode: nil)]
        var port = LinuxNetworkTests.port(on: network, mac: "fa:16:3e:00:42:10", ips: ["10.42.0.10"])
        port.portSecurityEnabled = false
        var guest: Guest?
        do {
            // The underlay: this namespace at 192.0.2.1, the peer host at .2 (and .3, which is not a peer).
            try await HostCommand.run(["ip", "netns", "add", peer])
            try await HostCommand.run(["ip", "link", "add", "mt-ul0", "type", "veth", "peer", "name", "ul0", "netns", peer])
            try await HostCommand.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "mt-ul0"])
            try await HostCommand.run(["ip", "link", "set", "mt-ul0", "up"])
            for address in ["192.0.2.2/24", "192.0.2.3/24"] { try await HostCommand.run(["ip", "-n", peer, "addr", "add", address, "dev", "ul0"]) }
            try await HostCommand.run(["ip", "-n", peer, "link", "set", "ul0", "up"])

            try await backend.apply(network: network)
            try await backend.apply(network: network)
            let bridge = DeviceNames.bridge(network: network.id)
            #expect(LinuxNetworkTests.master("vxlan-4242") == bridge)
            #expect(LinuxNetworkTests.sys("vxlan-4242", "mtu") == "1450")
            let details = try await HostCommand.run(["ip", "-d", "link", "show", "vxlan-4242"])
            #expect(details.contains("vxlan id 4242") && details.contains("local 192.0.2.1") && details.contains("dstport 4789"), "\(details)")
            let fdb = try await HostCommand.run(["bridge", "fdb", "show", "dev", "vxlan-4242"])
            #expect(fdb.split(separator: "\n").filter { $0.hasPrefix("00:00:00:00:00:00") }.map { $0.contains("dst 192.0.2.2") } == [true], "\(fdb)")

            guest = try await Guest.make(port)
            try await backend.apply(port: port)
            let g = try #require(guest)
            try await Self.tunnelledARP(from: "192.0.2.2", in: peer, vni: 4242, asking: "10.42.0.10", as: "10.42.0.97")
            #expect(await eventually(seconds: 3) { await Self.knows(g, "10.42.0.97") }, "a peer's tunnelled frame does not reach the guest")
            try await Self.tunnelledARP(from: "192.0.2.3", in: peer, vni: 4242, asking: "10.42.0.10", as: "10.42.0.98")
            try await Task.sleep(for: .seconds(1))
            #expect(await !Self.knows(g, "10.42.0.98"), "a tunnelled frame from an address that is not a peer reaches the guest")

            try await backend.removeNetwork(id: network.id)
            #expect(!Links.exists("vxlan-4242"))
        } catch {
            Issue.record(error)
        }
        await guest?.remove()
        try? await backend.removePort(id: port.id)
        try? await backend.removeNetwork(id: network.id)
        await backend.tunnels.removeGuard()
        await backend.dropTables()
        _ = try? await HostCommand.output(["ip", "link", "delete", "mt-ul0"])
        _ = try? await HostCommand.output(["ip", "netns", "delete", peer])
        try? FileManager.default.removeItem(atPath: Self.runtime)
    }
}
