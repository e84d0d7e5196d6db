@testable import Compute
import Foundation
import HTTPTypes
import MartletCore
import MartletStore
import MartletTestSupport
import Testing

@Suite struct SchedulingTests {
    @Test func aMoveWithNoOtherHostLeavesTheServerAsItWas() async throws {
        let cloud = try await computeCloud { $0.fakeHosts = 1 }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            await cloud.compute.settle()
            // Nova's API asks the scheduler first: a cold migration (and a live one before 2.34) is refused at once.
            for body: JSON in [["migrate": .null], ["os-migrateLive": ["host": .null, "block_migration": false]]] {
                let refused = try await c.action(admin, id, body)
                #expect(refused.status == .badRequest, "\(refused)")
                #expect(refused["badRequest"]?["message"]?.stringValue?.hasPrefix("No valid host was found.") == true, "\(refused)")
            }
            // Since 2.34 a live migration is checked after the answer: the server stays as it was.
            let live = try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin,
                                        json: ["os-migrateLive": ["host": .null, "block_migration": "auto"]],
                                        headers: ["OpenStack-API-Version": "compute 2.34"])
            #expect(live.status == .accepted, "\(live)")
            await cloud.compute.settle()
            let server = try #require(try await c.server(admin, id))
            #expect(server["status"]?.stringValue == "ACTIVE" && server["OS-EXT-STS:task_state"] == .null, "\(server)")
            #expect(server["OS-EXT-SRV-ATTR:host"]?.stringValue == "fake-1")
            let actions = try await c.call(.get, "/compute/v2.1/servers/\(id)/os-instance-actions", token: admin)["instanceActions"]?.array ?? []
            #expect(actions.first?["action"]?.stringValue == "live-migration" && actions.first?["message"]?.stringValue == "Error", "\(actions)")
            let migrations = try await c.call(.get, "/compute/v2.1/os-migrations", token: admin)["migrations"]?.array ?? []
            #expect(migrations.count == 1 && migrations.allSatisfy { $0["status"]?.stringValue == "error" }, "\(migrations)")
        }
    }

    @Test func antiAffinitySpreadsMembersAndRefusesOneTooMany() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let group = try await c.call(.post, "/compute/v2.1/os-server-groups", token: admin,
                                         json: ["server_group": ["name": "g", "policies": ["anti-affinity"]]])
            let groupID = try #require(group["server_group"]?["id"]?.stringValue)
            var ids: [String] = []
            for name in ["a", "b", "c"] {
                let reply = try await c.boot(admin, name: name, image: image, network: network, hints: ["group": .string(groupID)])
                ids.append(try #require(reply["server"]?["id"]?.stringValue))
                await cloud.compute.settle()
            }
            var servers: [JSON?] = []
            for id in ids { servers.append(try await c.server(admin, id)) }
            let hosts = Set(servers.prefix(2).compactMap { $0?["OS-EXT-SRV-ATTR:host"]?.stringValue })
            #expect(hosts == ["fake-1", "fake-2"])
            #expect(servers[2]?["status"] == "ERROR")
            #expect(servers[2]?["fault"]?["message"]?.stringValue?.contains("No valid host") == true)
            // The failed build keeps no port and no allocation.
            #expect(try await c.call(.get, "/network/v2.0/ports?device_id=\(ids[2])", token: admin)["ports"]?.array.isEmpty == true)
            let held = try await cloud.database.database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM cmp_allocations WHERE consumer_id = \(bind: ids[2])").first()?.decode(column: "n", as: Int.self)
            }
            #expect(held == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentCreatesNeverPassTheQuota(_ backend: TestBackend) async throws {
        let cloud = try await computeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let name = "u-" + Identifier.hex().prefix(8)
            let member = try await c.makeMember(admin: admin, name: name)
            let set = try await c.call(.put, "/compute/v2.1/os-quota-sets/\(member.project)", token: admin, json: ["quota_set": ["instances": 3]])
            #expect(set.status == .ok && set["quota_set"]?["instances"] == 3)
            let token = try await c.token(name, "pw", project: member.projectName)
            _ = network
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<10 {
                    group.addTask { try await c.boot(token, name: "q\(i)", image: image, network: nil).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .accepted }.count == 3)
            #expect(statuses.filter { $0 == .forbidden }.count == 7)
            await cloud.compute.settle()
            let detail = try await c.call(.get, "/compute/v2.1/os-quota-sets/\(member.project)/detail", token: admin)
            #expect(detail["quota_set"]?["instances"]?["in_use"] == 3)
            let over = try await c.boot(token, image: image, network: nil)
            #expect(over.status == .forbidden && over["forbidden"]?["message"]?.stringValue?.contains("Quota exceeded for instances") == true)
        }
    }

    @Test func aRestartFinishesInterruptedBuildsWithoutLeaks() async throws {
        let cloud = try await computeCloud { $0.fakeSpawnDelayMS = 600_000 }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let id = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            // Wait until the first conductor has placed the server and made its port, then "restart".
            for _ in 0..<200 {
                if try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.count == 1 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.count == 1)
            #expect(try await c.server(admin, id)?["status"] == "BUILD")
            // The first process stops (its conductor with it); the new one runs its own.
            cloud.stopLoops()
            let restarted = cloud.restartedCompute { $0.fakeSpawnDelayMS = 0 }
            let loops = BackgroundLoops(restarted.backgroundServices)
            defer { loops.stop() }
            try await restarted.start()
            await restarted.resumeServers()
            await restarted.settle()
            #expect(try await c.server(admin, id)?["status"] == "ACTIVE")
            #expect(try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.count == 1)
            let held = try await cloud.database.database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM cmp_allocations WHERE consumer_id = \(bind: id)").first()?.decode(column: "n", as: Int.self)
            }
            #expect(held == 1)
        }
    }
}
