import Foundation
import MartletCore
import MartletTestSupport
import Testing
@testable import Networking

/// What outside clients (openstacksdk's functional tests, the CLI) send and Neutron accepts.
@Suite struct NeutronCompatibilityTests {
    @Test func plusInAQueryIsASpace() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let made = try await c.create("networks", "network", admin, ["name": "sp ace"])
            for query in ["name=sp+ace", "name=sp%20ace", "na%6De=sp+ace"] {
                let found = try await c.call(.get, "/network/v2.0/networks?\(query)", token: admin)["networks"]?.array ?? []
                #expect(found.map { $0["id"] } == [made["id"]], "\(query)")
            }
            #expect(try await c.call(.get, "/network/v2.0/networks?name=sp%2Bace", token: admin)["networks"]?.array.isEmpty == true)
        }
    }

    @Test func aSubnetCIDRWithHostBitsIsStoredNormalised() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let net = try await c.create("networks", "network", admin, ["name": "n"])
            let subnet = try await c.create("subnets", "subnet", admin, ["network_id": net["id"]!, "cidr": "10.99.99.0/16", "ip_version": 4])
            #expect(subnet["cidr"] == "10.99.0.0/16" && subnet["gateway_ip"] == "10.99.0.1")
            let bare = try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": ["network_id": net["id"]!, "cidr": "10.98.0.1", "ip_version": 4]])
            #expect(bare.status == .badRequest, "an address without a prefix length is still refused")
        }
    }

    @Test func defaultValuedAttributesNeedNoPolicy() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "mia", password: "pw")
            let mia = try await c.token("mia", "pw", project: m.projectName)
            let pool = try await c.call(.post, "/network/v2.0/subnetpools", token: mia, json: ["subnetpool": [
                "name": "p", "prefixes": ["10.50.0.0/16"], "default_prefixlen": 24, "shared": false, "is_default": false]])
            #expect(pool.status == .created, "\(pool.body?.text ?? "")")
            #expect(try await c.call(.post, "/network/v2.0/networks", token: mia, json: ["network": ["name": "x", "shared": false, "router:external": false]]).status == .created)
            let shared = try await c.call(.post, "/network/v2.0/subnetpools", token: mia, json: ["subnetpool": [
                "name": "q", "prefixes": ["10.51.0.0/16"], "shared": true]])
            #expect(shared.status == .forbidden && shared.faultType == "PolicyNotAuthorized")
        }
    }

    @Test func routesMayGoThroughTheGatewaySubnet() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let external = try await c.create("networks", "network", admin, ["name": "ext", "router:external": true])
            _ = try await c.create("subnets", "subnet", admin, ["network_id": external["id"]!, "cidr": "10.7.7.0/24", "ip_version": 4])
            let router = try await c.create("routers", "router", admin, ["name": "r", "external_gateway_info": ["network_id": external["id"]!]])
            let id = router["id"]!.stringValue!
            let updated = try await c.call(.put, "/network/v2.0/routers/\(id)", token: admin, json: ["router": [
                "routes": [["destination": "10.8.0.0/24", "nexthop": "10.7.7.99"]]]])
            #expect(updated.status == .ok && updated["router"]?["routes"]?.array.count == 1, "\(updated.body?.text ?? "")")
            let elsewhere = try await c.call(.put, "/network/v2.0/routers/\(id)", token: admin, json: ["router": [
                "routes": [["destination": "10.8.0.0/24", "nexthop": "10.9.9.9"]]]])
            #expect(elsewhere.status == .badRequest && elsewhere.faultType == "InvalidRoutes")
        }
    }

    @Test func theAdvertisedRouterKindsHaveProviders() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let aliases = (try await c.call(.get, "/network/v2.0/extensions", token: admin)["extensions"]?.array ?? []).compactMap { $0["alias"]?.stringValue }
            let providers = (try await c.call(.get, "/network/v2.0/service-providers", token: admin)["service_providers"]?.array ?? [])
                .filter { $0["service_type"] == "L3_ROUTER_NAT" }.compactMap { $0["name"]?.stringValue }
            if aliases.contains("l3-ha") { #expect(providers.contains("ha")) }
            if aliases.contains("dvr") { #expect(providers.contains("dvr")) }
            // Filtered as any listing: no VPN provider, so openstacksdk's cleanup leaves VPNaaS alone.
            #expect(try await c.call(.get, "/network/v2.0/service-providers?service_type=VPN", token: admin)["service_providers"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/network/v2.0/service-providers?name=ha", token: admin)["service_providers"]?.array.count == 1)
        }
    }
}
