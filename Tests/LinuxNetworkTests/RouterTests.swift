import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// Routers against the kernel: namespaces standing in for guests on two tenant networks and for
/// the upstream gateway on the external one (which leads nowhere: it is a namespace of the test's).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .serialized)
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
