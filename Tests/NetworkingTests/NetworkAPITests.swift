import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

@Suite struct NetworkAPITests {
    @Test func badInputGetsNeutronFaults() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (net, subnet) = try await c.networkWithSubnet(admin)
            func subnetReply(_ extra: [String: JSON]) async throws -> Reply {
                try await c.call(.post, "/network/v2.0/subnets", token: admin,
                                 json: ["subnet": .object(["network_id": .string(net), "ip_version": 4].merging(extra) { _, new in new })])
            }
            let badCIDR = try await subnetReply(["cidr": "10.0.0.5/24"])
            #expect(badCIDR.status == .badRequest && badCIDR["NeutronError"]?["message"]?.stringValue?.contains("10.0.0.0/24") == true)
            #expect(badCIDR["NeutronError"]?["detail"] == "")
            let overlap = try await subnetReply(["cidr": "10.0.0.128/25"])
            #expect(overlap.status == .badRequest && overlap["NeutronError"]?["message"]?.stringValue?.contains("overlaps with another subnet") == true)
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "allocation_pools": [["start": "10.1.0.10", "end": "10.1.1.5"]]]).faultType == "OutOfBoundsAllocationPool")
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "allocation_pools": [["start": "10.1.0.10", "end": "10.1.0.20"], ["start": "10.1.0.15", "end": "10.1.0.30"]]]).faultType == "OverlappingAllocationPools")
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.12", "allocation_pools": [["start": "10.1.0.10", "end": "10.1.0.20"]]]).status == .conflict)
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "ip_version": 6]).status == .badRequest)
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "dns_nameservers": ["8.8.8.8", "8.8.8.8"]]).status == .badRequest)
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "colour": "red"]).status == .badRequest)
            #expect(try await subnetReply(["cidr": "10.1.0.0/24", "ipv6_ra_mode": "slaac"]).status == .badRequest)
            #expect(try await c.call(.put, "/network/v2.0/subnets/\(subnet)", token: admin, json: ["subnet": ["cidr": "10.3.0.0/24"]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/networks", token: admin, raw: Array("{".utf8)).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["net": [:]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["network": ["admin_state_up": "maybe"]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": "nope"]]).status == .badRequest)
            let missing = try await c.call(.get, "/network/v2.0/networks/not-a-uuid", token: admin)
            #expect(missing.status == .notFound && missing.faultType == "NetworkNotFound")
            #expect(try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(UUID().uuidString.lowercased())]]).status == .notFound)
            #expect(try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(net), "mac_address": "zz"]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(net), "binding:profile": "str"]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(net), "extra_dhcp_opts": [1]]]).status == .badRequest)
            // DHCP's files take an option a line: nothing that could start another gets in.
            for option: JSON in [["opt_name": "bootfile-name", "opt_value": "a\ntag:x,option:router,6.6.6.6"], ["opt_name": "router,6.6.6.6", "opt_value": "x"],
                                 ["opt_name": "bootfile-name", "opt_value": "x", "ip_version": 5]] {
                let refused = try await c.call(.post, "/network/v2.0/ports", token: admin, json: ["port": ["network_id": .string(net), "extra_dhcp_opts": [option]]])
                #expect(refused.status == .badRequest && refused.faultType == "HTTPBadRequest", "\(option)")
            }
            #expect(try await subnetReply(["cidr": "::/0", "ip_version": 6]).status == .badRequest)
            let rule = try await c.call(.post, "/network/v2.0/security-group-rules", token: admin, json: ["security_group_rule": [
                "security_group_id": .string(UUID().uuidString.lowercased()), "direction": "ingress"]])
            #expect(rule.status == .notFound)
            // Nothing half-made: the failed creates left one network and one subnet.
            #expect(try await c.call(.get, "/network/v2.0/subnets", token: admin)["subnets"]?.array.count == 1)
            #expect(try await c.call(.get, "/network/v2.0/ports", token: admin)["ports"]?.array.count == 0)
        }
    }

    @Test func providerSegmentsAreCheckedAndTenantSegmentsRunOut() async throws {
        let cloud = try await networkCloud { $0.networkVXLANRanges = "7:8" }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.create("networks", "network", admin, ["name": "a"])
            let b = try await c.create("networks", "network", admin, ["name": "b"])
            #expect(a["provider:segmentation_id"] == 7 && b["provider:segmentation_id"] == 8 && a["mtu"] == 1450)
            let none = try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["network": ["name": "c"]])
            #expect(none.status == .serviceUnavailable && none.faultType == "NoNetworkAvailable")
            _ = try await c.create("networks", "network", admin, ["provider:network_type": "flat", "provider:physical_network": "public", "router:external": true])
            let again = try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["network": ["provider:network_type": "flat", "provider:physical_network": "public"]])
            #expect(again.status == .conflict && again.faultType == "FlatNetworkInUse")
            let vlan = try await c.create("networks", "network", admin, ["provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 100])
            #expect(vlan["mtu"] == 1500)
            #expect(try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["network": ["provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 100]]).faultType == "VlanIdInUse")
            #expect(try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["network": ["provider:network_type": "vlan", "provider:physical_network": "physnet1", "provider:segmentation_id": 5000]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["network": ["provider:network_type": "gre"]]).status == .badRequest)
            // Deleting a network frees its segment.
            #expect(try await c.call(.delete, "/network/v2.0/networks/\(a["id"]!.stringValue!)", token: admin).status == .noContent)
            #expect(try await c.create("networks", "network", admin, ["name": "c"])["provider:segmentation_id"] == 7)
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.networks[b["id"]!.stringValue!]?.segmentationID == 8)
        }
    }

    @Test func listingFiltersSelectsSortsAndPages() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            var ids: [String] = []
            for i in 0..<5 {
                ids.append(try await c.create("networks", "network", admin, ["name": .string("net-\(i)"), "admin_state_up": .bool(i != 4), "tags": i < 2 ? ["red"] : ["blue"]])["id"]!.stringValue!)
            }
            func names(_ query: String) async throws -> [String] {
                try await c.call(.get, "/network/v2.0/networks?\(query)", token: admin)["networks"]?.array.compactMap { $0["name"]?.stringValue } ?? []
            }
            #expect(Set(try await names("name=net-1&name=net-3")) == ["net-1", "net-3"])
            #expect(try await names("admin_state_up=False") == ["net-4"])
            #expect(Set(try await names("tags=red")) == ["net-0", "net-1"])
            #expect(try await names("not-tags-any=red,blue").isEmpty)
            #expect(try await names("sort_key=name&sort_dir=desc&limit=2") == ["net-4", "net-3"])
            #expect(try await c.call(.get, "/network/v2.0/networks?colour=red", token: admin).status == .badRequest)
            #expect(try await c.call(.get, "/network/v2.0/networks?limit=9223372036854775807", token: admin)["networks"]?.array.count == 5)
            let fields = try await c.call(.get, "/network/v2.0/networks/\(ids[0])?fields=id&fields=name", token: admin)
            #expect(fields["network"]?.objectValue.map { Set($0.keys) } == ["id", "name"])
            var seen: [String] = []
            var next: String? = "/network/v2.0/networks?limit=2"
            while let path = next {
                let page = try await c.call(.get, path, token: admin)
                seen += page["networks"]?.array.compactMap { $0["id"]?.stringValue } ?? []
                next = page["networks_links"]?.array.first { $0["rel"] == "next" }?["href"]?.stringValue.map { String($0.dropFirst("http://127.0.0.1:5000".count)) }
                #expect(seen.count <= 5)
            }
            #expect(seen == ids.sorted())
            // Conditional updates.
            let stale = try await c.call(.put, "/network/v2.0/networks/\(ids[0])", token: admin, json: ["network": ["name": "x"]], headers: ["If-Match": "revision_number=9"])
            #expect(stale.status == .preconditionFailed)
            let fresh = try await c.call(.put, "/network/v2.0/networks/\(ids[0])", token: admin, json: ["network": ["name": "x"]], headers: ["If-Match": "revision_number=1"])
            #expect(fresh["network"]?["revision_number"] == 2 && fresh["network"]?["name"] == "x")
            #expect(try await c.call(.put, "/network/v2.0/networks/\(ids[0])/tags/green", token: admin).status == .created)
            #expect(try await c.call(.get, "/network/v2.0/networks/\(ids[0])/tags", token: admin)["tags"] == ["red", "green"])
            #expect(try await c.call(.get, "/network/v2.0/networks/\(ids[0])/tags/blue", token: admin).status == .notFound)
            let bulk = try await c.call(.post, "/network/v2.0/networks", token: admin, json: ["networks": [["name": "b1"], ["name": "b2"]]])
            #expect(bulk.status == .created && bulk["networks"]?.array.map { $0["name"] } == ["b1", "b2"])
        }
    }

    @Test func routersJoinSubnetsAndFloatingIPsReachPortsThroughThem() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let ext = try await c.create("networks", "network", admin, ["name": "public", "router:external": true])
            let extID = ext["id"]!
            _ = try await c.create("subnets", "subnet", admin, ["network_id": extID, "cidr": "203.0.113.0/24", "ip_version": 4, "enable_dhcp": false])
            let (net, subnet) = try await c.networkWithSubnet(admin)
            let port = try await c.create("ports", "port", admin, ["network_id": .string(net)])
            let portID = port["id"]!
            let fip = try await c.create("floatingips", "floatingip", admin, ["floating_network_id": extID])
            let fipID = fip["id"]!.stringValue!
            #expect(fip["status"] == "DOWN" && fip["floating_ip_address"]?.stringValue?.hasPrefix("203.0.113.") == true)
            let unreachable = try await c.call(.put, "/network/v2.0/floatingips/\(fipID)", token: admin, json: ["floatingip": ["port_id": portID]])
            #expect(unreachable.status == .notFound && unreachable.faultType == "ExternalGatewayForFloatingIPNotFound")

            let router = try await c.create("routers", "router", admin, ["name": "r", "external_gateway_info": ["network_id": extID]])
            let routerID = router["id"]!.stringValue!
            #expect(router["external_gateway_info"]?["enable_snat"] == true && router["external_gateway_info"]?["external_fixed_ips"]?.array.count == 1)
            let added = try await c.call(.put, "/network/v2.0/routers/\(routerID)/add_router_interface", token: admin, json: ["subnet_id": .string(subnet)])
            #expect(added.status == .ok && added["subnet_ids"] == [.string(subnet)] && added["id"] == .string(routerID))
            let again = try await c.call(.put, "/network/v2.0/routers/\(routerID)/add_router_interface", token: admin, json: ["subnet_id": .string(subnet)])
            #expect(again.status == .badRequest)
            let interface = try await c.call(.get, "/network/v2.0/ports/\(added["port_id"]!.stringValue!)", token: admin)["port"]
            #expect(interface?["fixed_ips"]?.array.first?["ip_address"] == "10.0.0.1" && interface?["status"] == "ACTIVE")
            #expect(try await c.call(.delete, "/network/v2.0/ports/\(added["port_id"]!.stringValue!)", token: admin).status == .conflict)

            let associated = try await c.call(.put, "/network/v2.0/floatingips/\(fipID)", token: admin, json: ["floatingip": ["port_id": portID]])
            // DOWN until the data plane has applied the router's NAT.
            #expect(associated["floatingip"]?["router_id"] == .string(routerID) && associated["floatingip"]?["status"] == "DOWN")
            #expect(associated["floatingip"]?["fixed_ip_address"] == port["fixed_ips"]?.array.first?["ip_address"])
            await cloud.network.settle()
            #expect(try await c.call(.get, "/network/v2.0/floatingips/\(fipID)", token: admin)["floatingip"]?["status"] == "ACTIVE")
            let plan = try #require(cloud.fakeBackend.snapshot.routers[routerID])
            #expect(plan.gateway?.enableSNAT == true && plan.interfaces.first?.addresses == ["10.0.0.1/24"])
            #expect(plan.floatingIPs.first?.floatingIP == fip["floating_ip_address"]?.stringValue)

            #expect(try await c.call(.delete, "/network/v2.0/routers/\(routerID)", token: admin).status == .conflict)
            let inUse = try await c.call(.put, "/network/v2.0/routers/\(routerID)/remove_router_interface", token: admin, json: ["subnet_id": .string(subnet)])
            #expect(inUse.status == .conflict)
            let cleared = try await c.call(.put, "/network/v2.0/floatingips/\(fipID)", token: admin, json: ["floatingip": ["port_id": nil]])
            #expect(cleared["floatingip"]?["port_id"] == .null && cleared["floatingip"]?["status"] == "DOWN")
            // Port forwardings need the floating IP free of a port, and reach the router's plan.
            let forward: JSON = ["port_forwarding": ["protocol": "tcp", "internal_port_id": portID, "internal_port": 22, "external_port": 2222,
                                                     "internal_ip_address": port["fixed_ips"]!.array[0]["ip_address"]!]]
            let pf = try await c.call(.post, "/network/v2.0/floatingips/\(fipID)/port_forwardings", token: admin, json: forward)
            #expect(pf.status == .created && pf["port_forwarding"]?["external_port"] == 2222)
            #expect(try await c.call(.post, "/network/v2.0/floatingips/\(fipID)/port_forwardings", token: admin, json: forward).status == .badRequest)
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.routers[routerID]?.portForwardings.first?.internalPort == 22)
            #expect(try await c.call(.put, "/network/v2.0/floatingips/\(fipID)", token: admin, json: ["floatingip": ["port_id": portID]]).status == .conflict)
            let pfID = try #require(pf["port_forwarding"]?["id"]?.stringValue)
            #expect(try await c.call(.get, "/network/v2.0/floatingips/\(fipID)/port_forwardings", token: admin)["port_forwardings"]?.array.count == 1)
            #expect(try await c.call(.delete, "/network/v2.0/floatingips/\(fipID)/port_forwardings/\(pfID)", token: admin).status == .noContent)
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.routers[routerID]?.portForwardings.isEmpty == true)
            #expect(try await c.call(.put, "/network/v2.0/routers/\(routerID)/remove_router_interface", token: admin, json: ["subnet_id": .string(subnet)]).status == .ok)
            #expect(try await c.call(.get, "/network/v2.0/ports?device_id=\(routerID)&device_owner=network:router_interface", token: admin)["ports"]?.array.isEmpty == true)
            #expect(try await c.call(.delete, "/network/v2.0/floatingips/\(fipID)", token: admin).status == .noContent)
            #expect(try await c.call(.delete, "/network/v2.0/routers/\(routerID)", token: admin).status == .noContent)
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.routers[routerID] == nil)
            // The gateway and floating-IP ports went with their owners.
            #expect(try await c.call(.get, "/network/v2.0/ports?network_id=\(extID.stringValue!)", token: admin)["ports"]?.array.isEmpty == true)
        }
    }

    @Test func anIPv6InterfaceIsAdvertisedWithItsSubnetsMode() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let network = try #require(try await c.create("networks", "network", admin, ["name": "v6"])["id"])
            let slaac = try await c.create("subnets", "subnet", admin, ["network_id": network, "cidr": "2001:db8:7::/64", "ip_version": 6,
                                                                        "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac",
                                                                        "dns_nameservers": ["2001:db8:53::1", "192.0.2.53"]])
            let unadvertised = try await c.create("subnets", "subnet", admin, ["network_id": network, "cidr": "2001:db8:8::/64", "ip_version": 6])
            let router = try #require(try await c.create("routers", "router", admin, ["name": "r6"])["id"]?.stringValue)
            for subnet in [slaac, unadvertised] {
                let added = try await c.call(.put, "/network/v2.0/routers/\(router)/add_router_interface", token: admin, json: ["subnet_id": subnet["id"]!])
                #expect(added.status == .ok)
            }
            await cloud.network.settle()
            let plan = try #require(cloud.fakeBackend.snapshot.routers[router])
            #expect(Set(plan.interfaces.flatMap(\.addresses)) == ["2001:db8:7::1/64", "2001:db8:8::1/64"])
            #expect(plan.interfaces.flatMap(\.advertisements) == [.init(prefix: "2001:db8:7::/64", mode: "slaac", dnsServers: ["2001:db8:53::1"])])
        }
    }

    @Test func securityGroupsHaveDefaultsRulesAndDuplicatesRefused() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "sg", password: "pw")
            let member = try await c.token("sg", "pw", project: m.projectName)
            let groups = try await c.call(.get, "/network/v2.0/security-groups", token: member)["security_groups"]?.array ?? []
            #expect(groups.count == 1 && groups[0]["name"] == "default" && groups[0]["security_group_rules"]?.array.count == 4)
            let defaultID = groups[0]["id"]!.stringValue!
            #expect(try await c.call(.delete, "/network/v2.0/security-groups/\(defaultID)", token: member).faultType == "SecurityGroupCannotRemoveDefault")
            let web = try await c.create("security-groups", "security_group", member, ["name": "web"])
            let webID = web["id"]!
            #expect(web["security_group_rules"]?.array.count == 2)
            let rule: JSON = ["security_group_id": webID, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"]
            let created = try await c.create("security-group-rules", "security_group_rule", member, rule)
            #expect(created["ethertype"] == "IPv4" && created["protocol"] == "tcp")
            #expect(try await c.call(.post, "/network/v2.0/security-group-rules", token: member, json: ["security_group_rule": rule]).faultType == "SecurityGroupRuleExists")
            let numeric = try await c.create("security-group-rules", "security_group_rule", member, ["security_group_id": webID, "direction": "ingress", "protocol": 17])
            #expect(numeric["protocol"] == "17")
            for bad: JSON in [
                ["security_group_id": webID, "direction": "sideways"],
                ["security_group_id": webID, "direction": "ingress", "protocol": "bogus"],
                ["security_group_id": webID, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 79],
                ["security_group_id": webID, "direction": "ingress", "protocol": "icmp", "port_range_min": 300],
                ["security_group_id": webID, "direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"],
                ["security_group_id": webID, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": webID],
            ] {
                #expect(try await c.call(.post, "/network/v2.0/security-group-rules", token: member, json: ["security_group_rule": bad]).status == .badRequest, "\(bad.text)")
            }
            #expect(try await c.call(.post, "/network/v2.0/security-groups", token: member, json: ["security_group": ["name": "default"]]).status == .conflict)
            // A port takes the default group; a group in use cannot go.
            let (net, _) = try await c.networkWithSubnet(member)
            let port = try await c.create("ports", "port", member, ["network_id": .string(net), "security_groups": [webID]])
            #expect(try await c.call(.delete, "/network/v2.0/security-groups/\(webID.stringValue!)", token: member).faultType == "SecurityGroupInUse")
            // Stateful and stateless groups do not mix on a port.
            let loose = try #require(try await c.create("security-groups", "security_group", member, ["name": "loose", "stateful": false])["id"])
            let mixed = try await c.call(.put, "/network/v2.0/ports/\(port["id"]!.stringValue!)", token: member,
                                         json: ["port": ["security_groups": [webID, loose]]])
            #expect(mixed.status == .conflict && mixed.faultType == "SecurityGroupConflict")
            let plain = try await c.create("ports", "port", member, ["network_id": .string(net)])
            #expect(plain["security_groups"] == [.string(defaultID)])
            #expect(try await c.call(.put, "/network/v2.0/ports/\(port["id"]!.stringValue!)", token: member, json: ["port": ["port_security_enabled": false]]).status == .conflict)
            #expect(try await c.call(.delete, "/network/v2.0/ports/\(port["id"]!.stringValue!)", token: member).status == .noContent)
            #expect(try await c.call(.delete, "/network/v2.0/security-groups/\(webID.stringValue!)", token: member).status == .noContent)
            #expect(try await c.call(.get, "/network/v2.0/security-group-rules?security_group_id=\(webID.stringValue!)", token: member)["security_group_rules"]?.array.isEmpty == true)
        }
    }

    @Test func subnetPoolsHandOutPrefixes() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let pool = try await c.create("subnetpools", "subnetpool", admin, ["name": "p", "prefixes": ["10.50.0.0/22"], "default_prefixlen": 24])
            let net = try await c.create("networks", "network", admin, ["name": "n"])
            var cidrs: [String] = []
            for _ in 0..<4 {
                cidrs.append(try await c.create("subnets", "subnet", admin, ["network_id": net["id"]!, "subnetpool_id": pool["id"]!])["cidr"]!.stringValue!)
            }
            #expect(cidrs == ["10.50.0.0/24", "10.50.1.0/24", "10.50.2.0/24", "10.50.3.0/24"])
            let full = try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": ["network_id": net["id"]!, "subnetpool_id": pool["id"]!]])
            #expect(full.status == .conflict)
            #expect(try await c.call(.delete, "/network/v2.0/subnetpools/\(pool["id"]!.stringValue!)", token: admin).status == .conflict)
            let poolPath = "/network/v2.0/subnetpools/\(pool["id"]!.stringValue!)"
            #expect(try await c.call(.put, poolPath, token: admin, json: ["subnetpool": ["min_prefixlen": 30]]).status == .badRequest)
            #expect(try await c.call(.put, poolPath, token: admin, json: ["subnetpool": ["max_prefixlen": 500]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/subnetpools", token: admin, json: ["subnetpool": ["prefixes": ["::/0"], "min_prefixlen": 0]]).status == .badRequest)
            #expect(try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": ["network_id": net["id"]!, "subnetpool_id": pool["id"]!, "prefixlen": 500]]).status == .badRequest)
        }
    }
}
