import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

@Suite struct NetworkPolicyTests {
    @Test func everyRouteNeedsAToken() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let routes = cloud.network.routes
            #expect(routes.count > 80)
            for route in routes {
                #expect(route.rule != nil && NetworkPolicy.table.rules[route.rule!] != nil, "\(route.method) \(route.path) has no rule")
                let path = "/network/" + route.path.split(separator: "/").map { $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/")
                let reply = try await c.call(route.method, path, json: [:])
                #expect(reply.status == .unauthorized, "\(route.method) \(route.path) answered \(reply.status) without a token")
            }
            #expect(try await c.call(.get, "/network")["versions"]?.array.first?["id"] == "v2.0")
        }
    }

    /// Rules a member passes on another project's resources that it can see; written out here so
    /// that loosening the table fails this test.
    static let openToOtherProjects: Set<String> = NetworkPolicy.members.flatMap { ["get_\($0)", "create_\($0)"] }
        .reduce(into: Set(["get_extension", "get_agents", "get_agent", "get_service_provider", "get_availability_zone"])) { $0.insert($1) }

    @Test func anotherProjectCannotManageAndDoesNotSeePrivateAttributes() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "per", password: "pw")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let per = try await c.token("per", "pw", project: b.projectName)
            // A member may not make shared, external or provider networks.
            for attribute: (String, JSON) in [("shared", true), ("router:external", true), ("provider:network_type", "vxlan")] {
                let reply = try await c.call(.post, "/network/v2.0/networks", token: ola, json: ["network": .object([attribute.0: attribute.1])])
                #expect(reply.status == .forbidden && reply.faultType == "PolicyNotAuthorized", "\(attribute.0)")
            }
            let shared = try await c.create("networks", "network", admin, ["name": "shared", "shared": true])
            let seen = try await c.call(.get, "/network/v2.0/networks/\(shared["id"]!.stringValue!)", token: per)["network"]
            #expect(seen?["name"] == "shared" && seen?["provider:network_type"] == nil)
            let onShared = try await c.create("ports", "port", per, ["network_id": shared["id"]!])
            #expect(onShared["binding:host_id"] == nil && onShared["project_id"] == .string(b.project))
            #expect(try await c.call(.put, "/network/v2.0/ports/\(onShared["id"]!.stringValue!)", token: per, json: ["port": ["binding:host_id": "h1"]]).status == .forbidden)

            let (net, subnet) = try await c.networkWithSubnet(ola)
            let port = try await c.create("ports", "port", ola, ["network_id": .string(net)])
            let router = try await c.create("routers", "router", ola, ["name": "r"])
            let group = try await c.create("security-groups", "security_group", ola, ["name": "g"])
            let values = ["id": net]
            for route in cloud.network.routes {
                let rule = try #require(route.rule)
                var path = "/network/" + route.path.split(separator: "/").map { part in
                    part.hasPrefix(":") ? values[String(part.dropFirst())] ?? "x" : String(part)
                }.joined(separator: "/")
                for (collection, id) in [("subnets", subnet), ("ports", port["id"]!.stringValue!), ("routers", router["id"]!.stringValue!),
                                         ("security-groups", group["id"]!.stringValue!)] where route.path.hasPrefix("/v2.0/\(collection)/") {
                    path = path.replacingOccurrences(of: net, with: id)
                }
                let reply = try await c.call(route.method, path, token: per, json: [:])
                if !Self.openToOtherProjects.contains(rule) {
                    #expect(reply.status == .forbidden || reply.status == .notFound,
                            "\(route.method) \(route.path) (\(rule)) let another project through: \(reply.status)")
                }
            }
            // A network's owner sees the ports others make on it, and cannot change them.
            let olaShared = try await c.create("networks", "network", admin, ["name": "olas", "shared": true, "project_id": .string(a.project)])
            let guest = try await c.create("ports", "port", per, ["network_id": olaShared["id"]!])
            let guestID = guest["id"]!.stringValue!
            #expect(try await c.call(.get, "/network/v2.0/ports?network_id=\(olaShared["id"]!.stringValue!)", token: ola)["ports"]?.array.map { $0["id"] } == [.string(guestID)])
            #expect(try await c.call(.put, "/network/v2.0/ports/\(guestID)", token: ola, json: ["port": ["name": "mine"]]).status == .forbidden)
            // A guest on a shared network may not squat addresses, switch off filtering or pose as a router.
            let olaRouter = try await c.create("routers", "router", ola, ["name": "olar"])
            for extra: [String: JSON] in [["mac_address": "fa:16:3e:aa:bb:cc"], ["port_security_enabled": false],
                                          ["allowed_address_pairs": [["ip_address": "0.0.0.0/0"]]],
                                          ["fixed_ips": [["ip_address": "10.0.0.1"]]], ["device_owner": "network:router_interface", "device_id": olaRouter["id"]!]] {
                let body = JSON.object(["network_id": olaShared["id"]!].merging(extra) { _, new in new })
                #expect(try await c.call(.post, "/network/v2.0/ports", token: per, json: ["port": body]).status == .forbidden, "\(extra.keys)")
                #expect(try await c.call(.put, "/network/v2.0/ports/\(guestID)", token: per, json: ["port": .object(extra)]).status == .forbidden, "\(extra.keys)")
            }
            #expect(try await c.call(.delete, "/network/v2.0/routers/\(olaRouter["id"]!.stringValue!)", token: ola).status == .noContent)
            // The owner's things are untouched and invisible to the other project.
            #expect(try await c.call(.get, "/network/v2.0/networks/\(net)", token: ola)["network"]?["revision_number"] == 2)
            #expect(try await c.call(.get, "/network/v2.0/ports", token: per)["ports"]?.array.count == 2)
            #expect(try await c.call(.get, "/network/v2.0/routers/\(router["id"]!.stringValue!)", token: per).status == .notFound)
        }
    }
}
