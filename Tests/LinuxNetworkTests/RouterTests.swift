import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// Routers against the kernel: namespaces standing in for guests on two tenant networks and for
/// the upstream gateway on the external one (which leads nowhere: it is a namespace of the test's).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .oneBackendAtATime)
struct RouterTests {
    static let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-router-\(getpid())").path
    let backend = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime)

    static func network(_ cidr: String, gateway: String) -> NetworkPlan {
        NetworkPlan(id: UUID().uuidString.lowercased(), networkType: "local", physicalNetwork: nil, segmentationID: nil, mtu: 1500,
                    adminStateUp: true, subnets: [SubnetPlan(id: UUID().uuidString.lowercased(), cidr: cidr, gatewayIP: gateway, allocationPools: [],
                                                             enableDHCP: false, dnsNameservers: [], hostRoutes: [], ipv6RAMode: nil, ipv6AddressMode: nil)])
    }

    /// A server's port without port security: these checks are about routing, not filtering.
    static func port(_ network: NetworkPlan, _ ip: String, _ last: Int) -> PortPlan {
        PortPlan(id: UUID().uuidString.lowercased(), networkID: network.id, host: "net-test", macAddress: String(format: "fa:16:3e:00:92:%02x", last),
                 fixedIPs: [ip], adminStateUp: true, deviceOwner: "compute:nova", portSecurityEnabled: false, securityGroupIDs: [],
                 allowedAddressPairs: [])
    }

    @Test func aRouterJoinsItsSubnetsAndNATsToTheExternalNetwork() async throws {
        let a = Self.network("10.92.1.0/24", gateway: "10.92.1.1"), b = Self.network("10.92.2.0/24", gateway: "10.92.2.1")
        let external = Self.network("172.24.4.0/24", gateway: "172.24.4.1")
        for network in [a, b, external] { try await backend.apply(network: network) }
        let pa = Self.port(a, "10.92.1.10", 10), pb = Self.port(b, "10.92.2.10", 11), pup = Self.port(external, "172.24.4.1", 12)
        var guests: [Guest] = []
        do {
            // One at a time: a guest made before a later one fails is still removed below.
            guests.append(try await Guest.make(pa, gateway: "10.92.1.1"))
            guests.append(try await Guest.make(pb, gateway: "10.92.2.1"))
            guests.append(try await Guest.make(pup))
            for port in [pa, pb, pup] { try await backend.apply(port: port) }
            let (ga, gb, upstream) = (guests[0], guests[1], guests[2])
            let uuid = { UUID().uuidString.lowercased() }
            var router = RouterPlan(
                id: uuid(), adminStateUp: true,
                gateway: .init(networkID: external.id, portID: uuid(), macAddress: "fa:16:3e:00:92:01", addresses: ["172.24.4.10"], enableSNAT: true),
                interfaces: [.init(portID: uuid(), networkID: a.id, macAddress: "fa:16:3e:00:92:02", addresses: ["10.92.1.1/24"]),
                             .init(portID: uuid(), networkID: b.id, macAddress: "fa:16:3e:00:92:03", addresses: ["10.92.2.1/24"])],
                routes: [], floatingIPs: [], portForwardings: [])
            try await backend.apply(router: router)
            try await backend.apply(router: router)
            #expect(try await backend.inventory().routers == [router.id])

            #expect(await ga.pings(gb), "the router does not forward between its subnets")
            // The upstream has no route to the tenants' subnets: its answer comes back only to the gateway's address.
            #expect(await gb.pings(upstream), "no SNAT out of the gateway")
            #expect(await !upstream.pings("172.24.4.50"), "a floating IP answers before it is associated")

            router.floatingIPs = [.init(floatingIP: "172.24.4.50", fixedIP: "10.92.1.10", portID: pa.id)]
            try await backend.apply(router: router)
            #expect(await upstream.pings("172.24.4.50"), "the floating IP does not reach its port")

            router.gateway?.enableSNAT = false
            try await backend.apply(router: router)
            #expect(await !gb.pings(upstream), "SNAT with enable_snat false")
            #expect(await ga.pings(upstream), "a port with a floating IP goes out as it")

            router.interfaces.removeLast()
            try await backend.apply(router: router)
            #expect(await !ga.pings(gb), "a removed interface still routes")
            let left = try await Links.names(in: Namespaces.router(router.id))
            #expect(!left.contains { $0.hasPrefix("qr-") && !router.interfaces.map { RouterNamespace.interface($0.portID) }.contains($0) }, "\(left)")

            router.adminStateUp = false
            try await backend.apply(router: router)
            #expect(await !upstream.pings("172.24.4.50"), "an admin-down router forwards")
            router.adminStateUp = true
            try await backend.apply(router: router)
            #expect(await upstream.pings("172.24.4.50"), "a router back up does not forward")

            try await backend.removeRouter(id: router.id)
            try await backend.removeRouter(id: router.id)
            #expect(!Namespaces.exists(Namespaces.router(router.id)))
            #expect(try await backend.inventory().routers.isEmpty)
        } catch {
            Issue.record(error)
        }
        for guest in guests { await guest.remove() }
        for port in [pa, pb, pup] { try? await backend.removePort(id: port.id) }
        for network in [a, b, external] { try? await backend.removeNetwork(id: network.id) }
        await backend.dropTables()
        try? FileManager.default.removeItem(atPath: Self.runtime)
    }
}

/// IPv6 against the kernel, radvd and dnsmasq: guests take their addresses from the router's
/// advertisements (SLAAC) or from DHCPv6, and the router forwards between its IPv6 legs.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .oneBackendAtATime)
struct IPv6RouterTests {
    static let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-router6-\(getpid())").path
    let backend = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime)

    static func network(_ cidr: String, mode: String) -> NetworkPlan {
        let gateway = IPPrefix.canonical(String(cidr.split(separator: "/")[0])) + "1"
        return NetworkPlan(id: UUID().uuidString.lowercased(), networkType: "local", physicalNetwork: nil, segmentationID: nil, mtu: 1500,
                           adminStateUp: true, subnets: [SubnetPlan(id: UUID().uuidString.lowercased(), cidr: cidr, gatewayIP: gateway, allocationPools: [],
                                                                    enableDHCP: true, dnsNameservers: ["2001:db8:53::53"], hostRoutes: [],
                                                                    ipv6RAMode: mode, ipv6AddressMode: mode)])
    }

    /// The address SLAAC makes from `mac` in a /64 (EUI-64), as the Networking service computes it.
    static func eui64(_ mac: String, in prefix: String) -> String {
        var id = mac.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        id[0] ^= 0x02
        id.insert(contentsOf: [0xff, 0xfe], at: 3)
        return IPPrefix.text(Array(IPPrefix.bytes(String(prefix.split(separator: "/")[0]))!.prefix(8)) + id)
    }

    @Test func advertisedPrefixesAddressGuestsAndTheRouterForwardsBetweenThem() async throws {
        let a = Self.network("2001:db8:a1::/64", mode: "slaac"), b = Self.network("2001:db8:a2::/64", mode: "slaac")
        let c = Self.network("2001:db8:a3::/64", mode: "dhcpv6-stateful")
        for network in [a, b, c] { try await backend.apply(network: network) }
        // Filtered, so neighbour discovery and the advertisements must pass the security groups.
        let group = SecurityGroupPlan(id: UUID().uuidString.lowercased(), stateful: true, rules: [
            .init(id: UUID().uuidString.lowercased(), direction: "egress", ethertype: "IPv6", proto: nil, portRangeMin: nil, portRangeMax: nil,
                  remoteIPPrefix: nil, remoteGroupID: nil),
            // `icmp` with IPv6, as tempest writes its ping rules: ICMPv6.
            .init(id: UUID().uuidString.lowercased(), direction: "ingress", ethertype: "IPv6", proto: "icmp", portRangeMin: nil, portRangeMax: nil,
                  remoteIPPrefix: nil, remoteGroupID: nil),
        ])
        try await backend.apply(securityGroup: group)
        let slaac = { (network: NetworkPlan, last: Int) in
            var port = RouterTests.port(network, "", last)
            port.fixedIPs = [Self.eui64(port.macAddress, in: network.subnets[0].cidr)]
            port.portSecurityEnabled = true
            port.securityGroupIDs = [group.id]
            return port
        }
        let pa = slaac(a, 0xa), pb = slaac(b, 0xb), pc = RouterTests.port(c, "2001:db8:a3::50", 0xc)
        let dhcp = PortPlan(id: UUID().uuidString.lowercased(), networkID: c.id, host: "net-test", macAddress: "fa:16:3e:00:93:02",
                            fixedIPs: ["2001:db8:a3::2"], adminStateUp: true, deviceOwner: "network:dhcp", portSecurityEnabled: false,
                            securityGroupIDs: [], allowedAddressPairs: [])
        let uuid = { UUID().uuidString.lowercased() }
        let router = RouterPlan(
            id: uuid(), adminStateUp: true, gateway: nil,
            interfaces: [(a, "2001:db8:a1::1"), (b, "2001:db8:a2::1"), (c, "2001:db8:a3::1")].enumerated().map { index, leg in
                let prefix = leg.0.subnets[0]
                return .init(portID: uuid(), networkID: leg.0.id, macAddress: String(format: "fa:16:3e:00:93:%02x", 0x10 + index),
                             addresses: ["\(leg.1)/64"], advertisements: [.init(prefix: prefix.cidr, mode: prefix.ipv6RAMode ?? "", dnsServers: prefix.dnsNameservers)])
            },
            routes: [], floatingIPs: [], portForwardings: [])
        var guests: [Guest] = []
        do {
            guests.append(try await Guest.make(pa, configured: false))
            guests.append(try await Guest.make(pb, configured: false))
            guests.append(try await Guest.make(pc, configured: false))
            for port in [pa, pb, pc, dhcp] { try await backend.apply(port: port) }
            try await backend.apply(router: router)
            try await backend.apply(router: router)
            let (ga, gb, gc) = (guests[0], guests[1], guests[2])

            let configuration = try String(contentsOfFile: "\(Self.runtime)/radvd/\(router.id)/radvd.conf", encoding: .utf8)
            #expect(configuration.contains("prefix 2001:db8:a3::/64") && configuration.contains("AdvManagedFlag on"), "\(configuration)")
            #expect(configuration.contains("RDNSS 2001:db8:53::53"), "\(configuration)")

            // Each took its address from the advertised prefix and its default route from the router.
            #expect(await eventually(seconds: 30) { await ga.pings(gb) }, "no SLAAC address or no IPv6 forwarding between the legs")
            #expect(await gb.pings(ga))
            let offered = await gc.dhcpv6Addresses()
            #expect(offered == ["2001:db8:a3::50"], "DHCPv6 offered \(offered)")
            let options = try String(contentsOfFile: "\(Self.runtime)/dhcp/\(c.id)/opts", encoding: .utf8)
            #expect(options.contains("option6:dns-server,[2001:db8:53::53]"), "\(options)")

            try await backend.removeRouter(id: router.id)
            #expect(!FileManager.default.fileExists(atPath: "\(Self.runtime)/radvd/\(router.id)"))
            let left = (try? await HostCommand.output(["pgrep", "-f", "\(Self.runtime)/radvd/"]))?.status
            #expect(left == 1, "a radvd outlived its router")
            #expect(await !ga.pings(gb), "traffic passes a removed router")
        } catch {
            Issue.record(error)
        }
        for guest in guests { await guest.remove() }
        try? await backend.removeRouter(id: router.id)
        for port in [pa, pb, pc, dhcp] { try? await backend.removePort(id: port.id) }
        for network in [a, b, c] { try? await backend.removeNetwork(id: network.id) }
        try? await backend.removeSecurityGroup(id: group.id)
        await backend.dropTables()
        try? FileManager.default.removeItem(atPath: Self.runtime)
    }
}
