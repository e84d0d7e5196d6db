import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

@Suite struct IPAMTests {
    @Test func aSlash30HasOneAddressAndThenRunsOut() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (net, subnet) = try await c.networkWithSubnet(admin, cidr: "10.9.0.0/30")
            let port = try await c.create("ports", "port", admin, ["network_id": .string(net)])
            #expect(port["fixed_ips"] == [["subnet_id": .string(subnet), "ip_address": "10.9.0.2"]])
            let full = try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(net)]])
            #expect(full.status == .conflict && full.faultType == "IpAddressGenerationFailure")
            // Freed addresses come back.
            #expect(try await c.call(.delete, "/network/v2.0/ports/\(port["id"]!.stringValue!)", token: admin).status == .noContent)
            let again = try await c.create("ports", "port", admin, ["network_id": .string(net)])
            #expect(again["fixed_ips"]?.array.first?["ip_address"] == "10.9.0.2")
        }
    }

    @Test func namedAddressesAreCheckedAndHeldOnce() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (net, subnet) = try await c.networkWithSubnet(admin)
            let mine = try await c.create("ports", "port", admin, ["network_id": .string(net), "fixed_ips": [["ip_address": "10.0.0.50"]]])
            #expect(mine["fixed_ips"]?.array.first?["subnet_id"]?.stringValue == subnet)
            let taken = try await c.call(.post, "/network/v2.0/ports", token: admin,
                                         json: ["port": ["network_id": .string(net), "fixed_ips": [["subnet_id": .string(subnet), "ip_address": "10.0.0.50"]]]])
            #expect(taken.status == .conflict && taken.faultType == "IpAddressAlreadyAllocated")
            for bad in ["10.1.0.5", "10.0.0.255", "10.0.0.0", "not-an-ip"] {
                let reply = try await c.call(.post, "/network/v2.0/ports", token: admin,
                                             json: ["port": ["network_id": .string(net), "fixed_ips": [["ip_address": .string(bad)]]]])
                #expect(reply.status == .badRequest, "\(bad) gave \(reply.status)")
            }
            // Replacing the addresses releases the old one.
            let id = mine["id"]!.stringValue!
            let moved = try await c.call(.put, "/network/v2.0/ports/\(id)", token: admin, json: ["port": ["fixed_ips": [["ip_address": "10.0.0.60"]]]])
            #expect(moved["port"]?["fixed_ips"]?.array.first?["ip_address"] == "10.0.0.60")
            let reuse = try await c.create("ports", "port", admin, ["network_id": .string(net), "fixed_ips": [["ip_address": "10.0.0.50"]]])
            #expect(reuse["fixed_ips"]?.array.first?["ip_address"] == "10.0.0.50")
            // Neither the network, the gateway nor the broadcast address is handed out.
            let pools = try await c.call(.get, "/network/v2.0/subnets/\(subnet)", token: admin)["subnet"]?["allocation_pools"]
            #expect(pools == [["start": "10.0.0.2", "end": "10.0.0.254"]])
        }
    }

    @Test func slaacSubnetsAddressPortsFromTheirMAC() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let net = try await c.create("networks", "network", admin, ["name": "v6"])
            let netID = net["id"]!
            let v4 = try await c.create("subnets", "subnet", admin, ["network_id": netID, "cidr": "10.5.0.0/24", "ip_version": 4])
            let v6 = try await c.create("subnets", "subnet", admin, ["network_id": netID, "cidr": "fd00:5::/64", "ip_version": 6,
                                                                    "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"])
            #expect(v6["gateway_ip"] == "fd00:5::1")
            let port = try await c.create("ports", "port", admin, ["network_id": netID, "mac_address": "fa:16:3e:00:00:07"])
            let ips = Dictionary(uniqueKeysWithValues: (port["fixed_ips"]?.array ?? []).map { ($0["subnet_id"]!.stringValue!, $0["ip_address"]!.stringValue!) })
            #expect(ips[v4["id"]!.stringValue!] == "10.5.0.2")
            #expect(ips[v6["id"]!.stringValue!] == "fd00:5::f816:3eff:fe00:7")
            let badPrefix = try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": [
                "network_id": netID, "cidr": "fd00:6::/80", "ip_version": 6, "ipv6_address_mode": "slaac"]])
            #expect(badPrefix.status == .badRequest)

            // A SLAAC subnet made later addresses the ports already there, a router's interface aside.
            let router = try #require(try await c.create("routers", "router", admin, ["name": "r"])["id"]?.stringValue)
            let interface = try await c.call(.put, "/network/v2.0/routers/\(router)/add_router_interface", token: admin, json: ["subnet_id": v4["id"]!])
            let later = try await c.create("subnets", "subnet", admin, ["network_id": netID, "cidr": "fd00:7::/64", "ip_version": 6,
                                                                       "ipv6_address_mode": "dhcpv6-stateless"])
            let reread = try await c.call(.get, "/network/v2.0/ports/\(port["id"]!.stringValue!)", token: admin)["port"]
            #expect(reread?["fixed_ips"]?.array.contains { $0["subnet_id"] == later["id"] && $0["ip_address"] == "fd00:7::f816:3eff:fe00:7" } == true,
                    "\(String(describing: reread?["fixed_ips"]))")
            let routerPort = try await c.call(.get, "/network/v2.0/ports/\(interface["port_id"]!.stringValue!)", token: admin)["port"]
            #expect(routerPort?["fixed_ips"]?.array.count == 1)
            // And the address leaves with the subnet.
            #expect(try await c.call(.delete, "/network/v2.0/subnets/\(later["id"]!.stringValue!)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/network/v2.0/ports/\(port["id"]!.stringValue!)", token: admin)["port"]?["fixed_ips"]?.array.count == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func fiftyConcurrentPortsGetDistinctAddresses(_ backend: TestBackend) async throws {
        let cloud = try await networkCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (net, _) = try await c.networkWithSubnet(admin, cidr: "10.7.0.0/26")
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(net)]]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == .created }, "\(replies.map(\.status))")
            let addresses = replies.compactMap { $0["port"]?["fixed_ips"]?.array.first?["ip_address"]?.stringValue }
            #expect(addresses.count == 50 && Set(addresses).count == 50)
            #expect(!addresses.contains("10.7.0.0") && !addresses.contains("10.7.0.1") && !addresses.contains("10.7.0.63"))
            let macs = replies.compactMap { $0["port"]?["mac_address"]?.stringValue }
            #expect(Set(macs).count == 50 && macs.allSatisfy { $0.hasPrefix("fa:16:3e:") })
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentCreatesNeverExceedTheQuota(_ backend: TestBackend) async throws {
        let cloud = try await networkCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "quo", password: "pw")
            let member = try await c.token("quo", "pw", project: m.projectName)
            #expect(try await c.call(.put, "/network/v2.0/quotas/\(m.project)", token: admin, json: ["quota": ["network": 4, "check_limit": true]]).status == .ok)
            #expect(try await c.call(.put, "/network/v2.0/quotas/\(m.project)", token: member, json: ["quota": ["network": 40]]).status == .forbidden)
            let statuses = try await withThrowingTaskGroup(of: Reply.self) { group in
                for i in 0..<12 {
                    group.addTask { try await c.call(.post, "/network/v2.0/networks", token: member, json: ["network": ["name": .string("q\(i)")]]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.status == .created }.count == 4)
            let refused = statuses.filter { $0.status == .conflict }
            #expect(refused.count == 8 && refused.allSatisfy { $0.faultType == "OverQuota" })
            let details = try await c.call(.get, "/network/v2.0/quotas/\(m.project)/details", token: member)
            #expect(details["quota"]?["network"] == ["limit": 4, "used": 4, "reserved": 0])
        }
    }
}
