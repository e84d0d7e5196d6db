import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

/// With a data plane that serves DHCP, a network with DHCP keeps one `network:dhcp` port, as
/// Neutron's DHCP agent does; with one that does not (the fake's default), it has none.
@Suite struct DHCPPortTests {
    @Test(arguments: TestBackend.available)
    func aNetworkWithDHCPHasOneDHCPPortWithAnAddressOnEachDHCPSubnet(_ database: TestBackend) async throws {
        let cloud = try await TestCloud.make(database, migrations: NetworkService.migrations, services: { db, config, _ in
            [try NetworkService(database: db, config: config, backend: FakeNetworkBackend(hosts: ["net-1"], servesDHCP: true))]
        })
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            func dhcpPorts(_ network: String) async throws -> [JSON] {
                try await c.call(.get, "/network/v2.0/ports?network_id=\(network)&device_owner=network:dhcp", token: admin)["ports"]?.array ?? []
            }
            func subnets(_ port: JSON) -> Set<String> { Set((port["fixed_ips"]?.array ?? []).compactMap { $0["subnet_id"]?.stringValue }) }
            func setDHCP(_ subnet: String, _ on: Bool) async throws {
                let reply = try await c.call(.put, "/network/v2.0/subnets/\(subnet)", token: admin, json: ["subnet": ["enable_dhcp": .bool(on)]])
                #expect(reply.status == .ok)
            }

            let (network, first) = try await c.networkWithSubnet(admin)
            var ports = try await dhcpPorts(network)
            #expect(ports.count == 1)
            #expect(ports.first?["binding:host_id"] == "net-1" && ports.first?["device_id"]?.stringValue?.hasPrefix("dhcp") == true)
            #expect(ports.first.map(subnets) == [first])

            let second = try #require(try await c.create("subnets", "subnet", admin, ["network_id": .string(network), "cidr": "10.1.0.0/24",
                                                                                      "ip_version": 4])["id"]?.stringValue)
            ports = try await dhcpPorts(network)
            #expect(ports.count == 1 && ports.first.map(subnets) == [first, second])
            // An IPv6 subnet without an address mode, or with SLAAC, needs no DHCPv6 server: no address.
            _ = try await c.create("subnets", "subnet", admin, ["network_id": .string(network), "cidr": "fd00:1::/64", "ip_version": 6])
            _ = try await c.create("subnets", "subnet", admin, ["network_id": .string(network), "cidr": "fd00:2::/64", "ip_version": 6,
                                                                "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"])
            #expect(try await dhcpPorts(network).first.map(subnets) == [first, second])
            // A DHCPv6 one is served: the port gets an address on it (stateless: from its MAC).
            let stateful = try #require(try await c.create("subnets", "subnet", admin, [
                "network_id": .string(network), "cidr": "fd00:3::/64", "ip_version": 6,
                "ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"])["id"]?.stringValue)
            #expect(try await dhcpPorts(network).first.map(subnets) == [first, second, stateful])
            #expect(try await c.call(.delete, "/network/v2.0/subnets/\(stateful)", token: admin).status == .noContent)
            #expect(try await dhcpPorts(network).first.map(subnets) == [first, second])

            try await setDHCP(first, false)
            #expect(try await dhcpPorts(network).first.map(subnets) == [second])
            try await setDHCP(second, false)
            #expect(try await dhcpPorts(network).isEmpty)
            try await setDHCP(first, true)
            #expect(try await dhcpPorts(network).count == 1)
            // Deleting the subnet takes the port; deleting the network is not refused for a DHCP port.
            #expect(try await c.call(.delete, "/network/v2.0/subnets/\(first)", token: admin).status == .noContent)
            #expect(try await dhcpPorts(network).isEmpty)
            try await setDHCP(second, true)
            #expect(try await c.call(.delete, "/network/v2.0/networks/\(network)", token: admin).status == .noContent)
            #expect(try await dhcpPorts(network).isEmpty)
        }
    }

    @Test func aDataPlaneWithoutDHCPGetsNoDHCPPort() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, _) = try await c.networkWithSubnet(admin)
            let ports = try await c.call(.get, "/network/v2.0/ports?network_id=\(network)", token: admin)["ports"]?.array ?? []
            #expect(ports.isEmpty)
        }
    }
}

/// A resync removes from the data plane what the database no longer has, and nothing else.
@Suite struct DataPlanePruneTests {
    @Test func aResyncRemovesWhatALostDeleteLeftBehind() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, _) = try await c.networkWithSubnet(admin)
            // What a delete cut short by a crash leaves: objects only the backend still has.
            let stale = NetworkPlan(id: UUID().uuidString.lowercased(), networkType: "local", physicalNetwork: nil, segmentationID: nil,
                                    mtu: 1500, adminStateUp: true, subnets: [])
            try await cloud.fakeBackend.apply(network: stale)
            try await cloud.fakeBackend.apply(port: PortPlan(id: UUID().uuidString.lowercased(), networkID: stale.id, host: "fake-1",
                                                            macAddress: "fa:16:3e:00:00:09", fixedIPs: [], adminStateUp: true,
                                                            deviceOwner: "compute:nova", portSecurityEnabled: true, securityGroupIDs: [],
                                                            allowedAddressPairs: []))
            try await cloud.network.converge()
            await cloud.network.settle()
            let state = cloud.fakeBackend.snapshot
            #expect(state.ports.isEmpty)
            #expect(Set(state.networks.keys) == [network])
        }
    }
}
