@testable import Compute
import Foundation
import MartletCore
import MartletStore
import MartletTestSupport
import Testing

/// What one project cannot do to another's servers through Networking, and what one request may ask.
@Suite struct ServerBoundsTests {
    @Test func anotherProjectsPortNeverJoinsAServer() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "anna", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "bert", password: "pw")
            let anna = try await c.token("anna", "pw", project: a.projectName)
            let bert = try await c.token("bert", "pw", project: b.projectName)
            let (_, image) = try await c.bootPrerequisites(admin)
            let network = try await c.privateNetwork(anna, cidr: "10.30.0.0/24")
            let id = try #require(try await c.boot(anna, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let bNetwork = try await c.privateNetwork(bert, cidr: "10.31.0.0/24")
            let planted = try await c.call(.post, "/network/v2.0/ports", token: bert, json: ["port": [
                "network_id": .string(bNetwork), "device_id": .string(id), "device_owner": "compute:nova"]])
            #expect(planted.status == .created)
            let plantedID = try #require(planted["port"]?["id"]?.stringValue)

            let interfaces = try await c.call(.get, "/compute/v2.1/servers/\(id)/os-interface", token: anna)["interfaceAttachments"]?.array ?? []
            #expect(interfaces.count == 1 && !interfaces.contains { $0["port_id"]?.stringValue == plantedID })
            #expect(try await c.call(.get, "/compute/v2.1/servers/\(id)/os-interface/\(plantedID)", token: anna).status == .notFound)
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(id)/os-interface/\(plantedID)", token: anna).status == .notFound)
            let groups = try await c.call(.get, "/compute/v2.1/servers/\(id)/os-security-groups", token: anna)["security_groups"]?.array ?? []
            #expect(groups.allSatisfy { $0["tenant_id"]?.stringValue == a.project })
            let ips = try await c.call(.get, "/compute/v2.1/servers/\(id)/ips", token: anna)["addresses"]?.objectValue ?? [:]
            #expect(!ips.values.flatMap { $0.array ?? [] }.contains { ($0["addr"]?.stringValue ?? "").hasPrefix("10.31.") })

            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(id)", token: anna).status == .noContent)
            await cloud.compute.settle()
            let kept = try await c.call(.get, "/network/v2.0/ports/\(plantedID)", token: bert)["port"]
            #expect(kept?["device_id"]?.stringValue == id, "the server's delete touched another project's port")
        }
    }

    @Test func oneRequestCreatesABoundedNumberOfServers() async throws {
        let cloud = try await computeCloud { $0.maxServersPerRequest = 5 }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let me = try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": admin])
            let project = me["token"]?["project"]?["id"]?.stringValue ?? ""
            #expect(try await c.call(.put, "/compute/v2.1/os-quota-sets/\(project)", token: admin,
                                     json: ["quota_set": ["instances": -1, "cores": -1, "ram": -1]]).status == .ok)
            let (network, image) = try await c.bootPrerequisites(admin)
            let huge = try await c.boot(admin, image: image, network: network, extra: ["max_count": 2_147_483_647])
            #expect(huge.status == .accepted, "\(huge.body?.text ?? "")")
            await cloud.compute.settle()
            let made = try await c.call(.get, "/compute/v2.1/servers?limit=100", token: admin)["servers"]?.array ?? []
            #expect(made.count == 5)
            let tooMany = try await c.boot(admin, image: image, network: network, extra: ["min_count": 6, "max_count": 6])
            #expect(tooMany.status == .forbidden && tooMany.body?.text.contains("at most 5") == true, "\(tooMany.body?.text ?? "")")
            // The store still takes writes, and says so.
            #expect(try await c.call(.get, "/healthz").status == .ok)
        }
    }
}

extension Client {
    /// A network of the caller's project with one subnet.
    func privateNetwork(_ token: String, cidr: String) async throws -> String {
        let net = try await call(.post, "/network/v2.0/networks", token: token, json: ["network": ["name": "private"]])
        guard let id = net["network"]?["id"]?.stringValue else { throw TestFailure("network: \(net.body?.text ?? "")") }
        let subnet = try await call(.post, "/network/v2.0/subnets", token: token,
                                    json: ["subnet": ["network_id": .string(id), "cidr": .string(cidr), "ip_version": 4]])
        guard subnet.status == .created else { throw TestFailure("subnet: \(subnet.body?.text ?? "")") }
        return id
    }
}
