@testable import Compute
import Foundation
import MartletCore
import MartletStore
import MartletTestSupport
import Testing

@Suite struct ServerLifecycleTests {
    @Test(arguments: TestBackend.available)
    func aServerBootsActsAndGoesWithItsPort(_ backend: TestBackend) async throws {
        let cloud = try await computeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let created = try await c.boot(admin, image: image, network: network)
            #expect(created.status == .accepted, "\(created.body?.text ?? "")")
            #expect(created.header("x-compute-request-id") == created.header("x-openstack-request-id"))
            let id = try #require(created["server"]?["id"]?.stringValue)
            #expect(created["server"]?["adminPass"]?.stringValue?.count == 12, "Nova answers a create with the admin password")
            await cloud.compute.settle()
            let server = try #require(try await c.server(admin, id))
            #expect(server["status"] == "ACTIVE" && server["OS-EXT-STS:power_state"] == 1 && server["OS-EXT-STS:task_state"] == .null)
            #expect(["fake-1", "fake-2"].contains(server["OS-EXT-SRV-ATTR:host"]?.stringValue ?? ""))
            #expect(server["locked"] == nil, "2.1 does not show 2.9's field")
            let address = server["addresses"]?.objectValue?.values.first?.array.first?["addr"]?.stringValue ?? ""
            #expect(address.hasPrefix("10.20.0."))
            let ports = try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array ?? []
            #expect(ports.count == 1 && ports.first?["device_owner"] == "compute:nova")

            for (action, status, power) in [("os-stop", "SHUTOFF", 4), ("os-start", "ACTIVE", 1), ("pause", "PAUSED", 3),
                                            ("unpause", "ACTIVE", 1), ("suspend", "SUSPENDED", 7), ("resume", "ACTIVE", 1)] as [(String, String, Int64)] {
                let reply = try await c.action(admin, id, [action: .null])
                #expect(reply.status == .accepted, "\(action): \(reply.body?.text ?? "")")
                await cloud.compute.settle()
                let now = try await c.server(admin, id)
                #expect(now?["status"]?.stringValue == status && now?["OS-EXT-STS:power_state"] == .int(power), "\(action)")
            }
            // An action the state does not allow is a 409 that says why.
            let wrong = try await c.action(admin, id, ["os-start": .null])
            #expect(wrong.status == .conflict && wrong["conflictingRequest"]?["message"]?.stringValue?.contains("vm_state active") == true)

            // Resize to another flavor, confirm: the server carries the new flavor.
            #expect(try await c.action(admin, id, ["resize": ["flavorRef": "84"]]).status == .accepted)
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["status"] == "VERIFY_RESIZE")
            #expect(try await c.action(admin, id, ["confirmResize": .null]).status == .noContent)
            await cloud.compute.settle()
            let resized = try await c.server(admin, id)
            #expect(resized?["status"] == "ACTIVE" && resized?["flavor"]?["id"] == "84")

            let actions = try await c.call(.get, "/compute/v2.1/servers/\(id)/os-instance-actions", token: admin)["instanceActions"]?.array ?? []
            #expect(actions.map { $0["action"]?.stringValue ?? "" }.contains("create") && actions.count >= 8)

            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(id)", token: admin).status == .noContent)
            await cloud.compute.settle()
            #expect(try await c.call(.get, "/compute/v2.1/servers/\(id)", token: admin).status == .notFound)
            #expect(try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.isEmpty == true)
            let allocations = try await cloud.database.database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM cmp_allocations").first()?.decode(column: "n", as: Int.self)
            }
            #expect(allocations == 0)
        }
    }

    @Test func badRequestsGetNovaFaultsAndLeaveNothingBehind() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let missing = try await c.call(.get, "/compute/v2.1/servers/not-a-uuid", token: admin)
            #expect(missing.status == .notFound && missing["itemNotFound"]?["code"] == 404)
            let badData = try await c.boot(admin, image: image, network: network, extra: ["user_data": "not base64!"])
            #expect(badData.status == .badRequest && badData["badRequest"]?["message"]?.stringValue?.contains("base 64") == true)
            let badFlavor = try await c.boot(admin, image: image, network: network, flavor: "nope")
            #expect(badFlavor.status == .badRequest)
            let badImage = try await c.boot(admin, image: Identifier.uuid(), network: network)
            #expect(badImage.status == .badRequest)
            let badNetwork = try await c.boot(admin, image: image, network: Identifier.uuid())
            #expect(badNetwork.status == .badRequest)
            let big = Dictionary(uniqueKeysWithValues: (0..<129).map { ("k\($0)", JSON.string("v")) })
            let tooMuch = try await c.boot(admin, image: image, network: network, extra: ["metadata": .object(big)])
            #expect(tooMuch.status == .forbidden || tooMuch.status == .badRequest)
            let garbage = try await c.call(.post, "/compute/v2.1/servers", token: admin, raw: Array("{not json".utf8))
            #expect(garbage.status == .badRequest && garbage["badRequest"] != nil)
            let unknown = try await c.boot(admin, image: image, network: network, extra: ["colour": "red"])
            #expect(unknown.status == .badRequest)
            #expect(try await c.call(.get, "/compute/v2.1/servers", token: admin)["servers"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/network/v2.0/ports", token: admin)["ports"]?.array.isEmpty == true)
        }
    }

    @Test func microversionsAreNegotiatedAndShapeTheServer() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let root = try await c.call(.get, "/compute/")
            #expect(root["versions"]?.array.map { $0["id"]?.stringValue ?? "" } == ["v2.0", "v2.1"])
            let max = ComputeService.versions.maximum.description
            let latest = try await c.call(.get, "/compute/v2.1/flavors", token: admin, headers: ["OpenStack-API-Version": "compute latest"])
            #expect(latest.header("OpenStack-API-Version") == "compute \(max)" && latest.header("X-OpenStack-Nova-API-Version") == max)
            let legacy = try await c.call(.get, "/compute/v2.1/flavors", token: admin, headers: ["X-OpenStack-Nova-API-Version": "2.1"])
            #expect(legacy.status == .ok && legacy.header("X-OpenStack-Nova-API-Version") == "2.1")
            let tooHigh = try await c.call(.get, "/compute/v2.1/flavors", token: admin, headers: ["OpenStack-API-Version": "compute 9.9"])
            #expect(tooHigh.status == .notAcceptable && tooHigh["notAcceptable"] != nil)
            let malformed = try await c.call(.get, "/compute/v2.1/flavors", token: admin, headers: ["OpenStack-API-Version": "compute 2.x"])
            #expect(malformed.status == .badRequest)

            // 2.86 validates extra specs in Nova's registered namespaces; earlier versions take anything.
            func setSpec(_ key: String, _ value: String, _ version: String) async throws -> Reply {
                try await c.call(.post, "/compute/v2.1/flavors/42/os-extra_specs", token: admin, json: ["extra_specs": .object([key: .string(value)])],
                                 headers: ["OpenStack-API-Version": "compute \(version)"])
            }
            #expect(try await setSpec("hw:cpu_policy", "dedicated", "2.86").status == .ok)
            let badValue = try await setSpec("hw:cpu_policy", "sometimes", "2.86")
            #expect(badValue.status == .badRequest && badValue["badRequest"]?["message"]?.stringValue?.hasPrefix("Validation failed;") == true)
            #expect(try await setSpec("hw:no_such_thing", "1", "2.86").status == .badRequest)
            #expect(try await setSpec("hw:no_such_thing", "1", "2.85").status == .ok)
            #expect(try await setSpec("mycompany:anything", "x", "2.86").status == .ok, "namespaces Nova does not register pass")
        }
    }
}
