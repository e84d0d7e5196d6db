import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

/// Address scopes (`/v2.0/address-scopes`) and what they mean for subnet pools and networks.
@Suite struct AddressScopeTests {
    @Test(arguments: TestBackend.available)
    func crudPolicyAndValidation(_ backend: TestBackend) async throws {
        let cloud = try await networkCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "per", password: "pw")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let per = try await c.token("per", "pw", project: b.projectName)

            let shared = try await c.create("address-scopes", "address_scope", admin, ["name": "s4", "ip_version": 4, "shared": true])
            #expect(Set(shared.objectValue?.keys.map { $0 } ?? []) == ["id", "name", "ip_version", "shared", "project_id", "tenant_id"])
            #expect(shared["ip_version"] == 4 && shared["shared"] == true)
            let own = try await c.create("address-scopes", "address_scope", ola, ["name": "mine", "ip_version": "6", "shared": false])
            #expect(own["project_id"] == .string(a.project) && own["ip_version"] == 6 && own["shared"] == false)
            let ownID = own["id"]!.stringValue!

            // A member may not share a scope, on create or update.
            let sharing = try await c.call(.post, "/network/v2.0/address-scopes", token: ola, json: ["address_scope": ["ip_version": 4, "shared": true]])
            #expect(sharing.status == .forbidden && sharing.faultType == "PolicyNotAuthorized")
            #expect(try await c.call(.put, "/network/v2.0/address-scopes/\(ownID)", token: ola, json: ["address_scope": ["shared": true]]).status == .forbidden)
            for bad: JSON in [["name": "x"], ["ip_version": 5], ["ip_version": "four"], ["ip_version": 4, "colour": "red"], ["ip_version": 4, "name": 7]] {
                let reply = try await c.call(.post, "/network/v2.0/address-scopes", token: admin, json: ["address_scope": bad])
                #expect(reply.status == .badRequest, "\(bad)")
            }

            // Visibility: one's own and shared scopes; another project's private scope is absent.
            let seen = try await c.call(.get, "/network/v2.0/address-scopes", token: per)["address_scopes"]?.array ?? []
            #expect(seen.map { $0["id"] } == [shared["id"]])
            let hidden = try await c.call(.get, "/network/v2.0/address-scopes/\(ownID)", token: per)
            #expect(hidden.status == .notFound && hidden.faultType == "AddressScopeNotFound")
            #expect(try await c.call(.put, "/network/v2.0/address-scopes/\(shared["id"]!.stringValue!)", token: per, json: ["address_scope": ["name": "x"]]).status == .forbidden)
            #expect(try await c.call(.get, "/network/v2.0/address-scopes?ip_version=6", token: admin)["address_scopes"]?.array.map { $0["id"] } == [own["id"]])
            #expect(try await c.call(.get, "/network/v2.0/address-scopes?shared=true&fields=name", token: admin)["address_scopes"] == [["name": "s4"]])

            // Updates: names freely, sharing by admins only and never back; the IP version is fixed.
            let renamed = try await c.call(.put, "/network/v2.0/address-scopes/\(ownID)", token: ola, json: ["address_scope": ["name": "renamed"]],
                                           headers: ["If-Match": "revision_number=7"])
            #expect(renamed.status == .ok && renamed["address_scope"]?["name"] == "renamed")
            #expect(try await c.call(.put, "/network/v2.0/address-scopes/\(ownID)", token: ola, json: ["address_scope": ["ip_version": 4]]).status == .badRequest)
            #expect(try await c.call(.put, "/network/v2.0/address-scopes/\(ownID)", token: admin, json: ["address_scope": ["shared": true]])["address_scope"]?["shared"] == true)
            let unshare = try await c.call(.put, "/network/v2.0/address-scopes/\(ownID)", token: admin, json: ["address_scope": ["shared": false]])
            #expect(unshare.status == .badRequest && unshare.faultType == "AddressScopeUpdateError")
            // No standard attributes, so no tags.
            #expect(try await c.call(.put, "/network/v2.0/address-scopes/\(ownID)/tags/t", token: admin).status == .notFound)

            #expect(try await c.call(.delete, "/network/v2.0/address-scopes/\(ownID)", token: per).status == .forbidden)
            #expect(try await c.call(.delete, "/network/v2.0/address-scopes/\(ownID)", token: ola).status == .noContent)
            #expect(try await c.call(.get, "/network/v2.0/address-scopes/\(ownID)", token: admin).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func poolsJoinScopesAndNetworksShowThem(_ backend: TestBackend) async throws {
        let cloud = try await networkCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let scope = try await c.create("address-scopes", "address_scope", admin, ["name": "s", "ip_version": 4])
            let scopeID = scope["id"]!.stringValue!
            let v6 = try await c.create("address-scopes", "address_scope", admin, ["name": "s6", "ip_version": 6])
            func pool(_ token: String, _ prefix: String, _ scope: JSON) async throws -> Reply {
                try await c.call(.post, "/network/v2.0/subnetpools", token: token, json: ["subnetpool": [
                    "name": "p", "prefixes": [.string(prefix)], "default_prefixlen": 24, "address_scope_id": scope]])
            }

            let missing = try await pool(admin, "10.0.0.0/16", .string(UUID().uuidString.lowercased()))
            #expect(missing.status == .notFound && missing.faultType == "AddressScopeNotFound")
            #expect(try await pool(admin, "10.0.0.0/16", "nope").status == .badRequest)
            let wrongFamily = try await pool(admin, "10.0.0.0/16", v6["id"]!)
            #expect(wrongFamily.status == .badRequest && wrongFamily.faultType == "IllegalSubnetPoolIpVersionAssociationToAddressScope")
            // Another project's private scope is as good as absent.
            #expect(try await pool(ola, "10.0.0.0/16", .string(scopeID)).faultType == "AddressScopeNotFound")

            let first = try await pool(admin, "10.0.0.0/16", .string(scopeID))
            #expect(first.status == .created && first["subnetpool"]?["address_scope_id"] == .string(scopeID))
            let poolID = first["subnetpool"]!["id"]!.stringValue!
            let overlap = try await pool(admin, "10.0.128.0/17", .string(scopeID))
            #expect(overlap.status == .conflict && overlap.faultType == "AddressScopePrefixConflict")
            let second = try await pool(admin, "10.1.0.0/16", .string(scopeID))
            #expect(second.status == .created)
            let secondID = second["subnetpool"]!["id"]!.stringValue!
            #expect(try await c.call(.get, "/network/v2.0/subnetpools?address_scope_id=\(scopeID)", token: admin)["subnetpools"]?.array.count == 2)
            // Growing a pool inside its scope is checked too.
            let grow = try await c.call(.put, "/network/v2.0/subnetpools/\(secondID)", token: admin, json: ["subnetpool": ["prefixes": ["10.1.0.0/16", "10.0.5.0/24"]]])
            #expect(grow.status == .conflict && grow.faultType == "AddressScopePrefixConflict")

            // A network is in the scope of the pools its subnets came from.
            let net = try await c.create("networks", "network", admin, ["name": "n"])
            let netID = net["id"]!.stringValue!
            #expect(net["ipv4_address_scope"] == .null && net["ipv6_address_scope"] == .null)
            _ = try await c.create("subnets", "subnet", admin, ["network_id": .string(netID), "subnetpool_id": .string(poolID), "ip_version": 4])
            let scoped = try await c.call(.get, "/network/v2.0/networks/\(netID)", token: admin)["network"]
            #expect(scoped?["ipv4_address_scope"] == .string(scopeID) && scoped?["ipv6_address_scope"] == .null)
            #expect(try await c.call(.get, "/network/v2.0/networks?ipv4_address_scope=\(scopeID)", token: admin)["networks"]?.array.count == 1)
            // A second IPv4 subnet must come from the same scope.
            let loose = try await c.create("subnetpools", "subnetpool", admin, ["name": "loose", "prefixes": ["10.9.0.0/16"], "default_prefixlen": 24])
            let stray = try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": [
                "network_id": .string(netID), "subnetpool_id": loose["id"]!, "ip_version": 4]])
            #expect(stray.status == .badRequest && stray.faultType == "NetworkAddressScopeAffinityError")
            #expect(try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": [
                "network_id": .string(netID), "subnetpool_id": .string(secondID), "ip_version": 4]]).status == .created)

            // A scope with pools stays; once they leave, the networks leave with them and it can go.
            let inUse = try await c.call(.delete, "/network/v2.0/address-scopes/\(scopeID)", token: admin)
            #expect(inUse.status == .conflict && inUse.faultType == "AddressScopeInUse")
            // Re-scoping one pool alone would split the network between scopes.
            let other = try await c.create("address-scopes", "address_scope", admin, ["name": "other", "ip_version": 4])
            let split = try await c.call(.put, "/network/v2.0/subnetpools/\(poolID)", token: admin, json: ["subnetpool": ["address_scope_id": other["id"]!]])
            #expect(split.status == .badRequest && split.faultType == "NetworkAddressScopeAffinityError")
            for id in [poolID, secondID] {
                let left = try await c.call(.put, "/network/v2.0/subnetpools/\(id)", token: admin, json: ["subnetpool": ["address_scope_id": nil]])
                #expect(left.status == .ok && left["subnetpool"]?["address_scope_id"] == .null)
            }
            #expect(try await c.call(.get, "/network/v2.0/networks/\(netID)", token: admin)["network"]?["ipv4_address_scope"] == .null)
            #expect(try await c.call(.delete, "/network/v2.0/address-scopes/\(scopeID)", token: admin).status == .noContent)
            // A pool joining a scope later takes the networks using it along.
            let net2 = try await c.create("networks", "network", admin, ["name": "n2"])
            _ = try await c.create("subnets", "subnet", admin, ["network_id": net2["id"]!, "subnetpool_id": loose["id"]!, "ip_version": 4])
            #expect(try await c.call(.put, "/network/v2.0/subnetpools/\(loose["id"]!.stringValue!)", token: admin,
                                     json: ["subnetpool": ["address_scope_id": other["id"]!]]).status == .ok)
            #expect(try await c.call(.get, "/network/v2.0/networks/\(net2["id"]!.stringValue!)", token: admin)["network"]?["ipv4_address_scope"] == other["id"])
        }
    }

    @Test func aPoolInAnotherProjectsSharedScopeIsFrozen() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let scope = try await c.create("address-scopes", "address_scope", admin, ["name": "s", "ip_version": 4, "shared": true])
            let pool = try await c.create("subnetpools", "subnetpool", ola, ["name": "p", "prefixes": ["10.3.0.0/16"], "address_scope_id": scope["id"]!])
            #expect(pool["address_scope_id"] == scope["id"])
            let frozen = try await c.call(.put, "/network/v2.0/subnetpools/\(pool["id"]!.stringValue!)", token: ola, json: ["subnetpool": ["name": "q"]])
            #expect(frozen.status == .badRequest && frozen.faultType == "IllegalSubnetPoolUpdate")
            #expect(try await c.call(.put, "/network/v2.0/subnetpools/\(pool["id"]!.stringValue!)", token: admin, json: ["subnetpool": ["name": "q"]]).status == .ok)
        }
    }

    @Test func theExtensionsAreAdvertised() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let aliases = (try await c.call(.get, "/network/v2.0/extensions", token: admin)["extensions"]?.array ?? []).compactMap { $0["alias"]?.stringValue }
            #expect(aliases.contains("address-scope") && aliases.contains("metering") && aliases.contains("metering_source_and_destination_fields"))
            #expect(aliases.contains("agent") && aliases.contains("l3_agent_scheduler") && aliases.contains("dhcp_agent_scheduler"))
            #expect(try await c.call(.get, "/network/v2.0/extensions/address-scope", token: admin)["extension"]?["name"] == "Address scope")
        }
    }
}
