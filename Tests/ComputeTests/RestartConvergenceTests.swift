@testable import Compute
import Foundation
import MartletCore
import MartletTestSupport
import SQLKit
import Testing

@Suite struct RestartConvergenceTests {
    /// A thousand servers are being built when the process stops (its conductor is cancelled in the
    /// middle of placing, wiring and spawning them). A new process converges every one: all ACTIVE,
    /// one port each and no stray port, one allocation each, each running on the hypervisor.
    @Test(arguments: TestBackend.available)
    func aThousandInterruptedBuildsConvergeWithoutLeaks(_ backend: TestBackend) async throws {
        let count = 1000
        let cloud = try await computeCloud(backend) { $0.fakeSpawnDelayMS = 600_000 }
        defer { Task { await cloud.close() } }
        let db = cloud.database.database
        func number(_ sql: SQLQueryString) async throws -> Int {
            try await db.read { try await $0.raw(sql).first()?.decode(column: "n", as: Int.self) ?? -1 }
        }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin, cidr: "10.20.0.0/20")
            let project = try #require(try await c.call(.get, "/identity/v3/auth/projects", token: admin)["projects"]?.array
                .first { $0["name"] == "admin" }?["id"]?.stringValue)
            #expect(try await c.call(.put, "/compute/v2.1/os-quota-sets/\(project)", token: admin,
                                     json: ["quota_set": ["instances": -1, "cores": -1, "ram": -1]]).status == .ok)
            #expect(try await c.call(.put, "/network/v2.0/quotas/\(project)", token: admin, json: ["quota": ["port": -1]]).status == .ok)
            let made = try await c.boot(admin, image: image, network: network, extra: ["min_count": .int(Int64(count))])
            #expect(made.status == .accepted, "\(String(decoding: made.bytes, as: UTF8.self))")
        }
        // Stop while some servers have a host and a port and others have neither.
        for _ in 0..<1000 where try await number("SELECT COUNT(*) AS n FROM net_ports WHERE device_owner LIKE 'compute:%'") < count / 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        cloud.stopLoops()
        let states = try await db.read {
            try await $0.raw("SELECT vm_state, COUNT(*) AS n FROM cmp_servers GROUP BY vm_state").all()
                .map { "\(try $0.decode(column: "vm_state", as: String.self)): \(try $0.decode(column: "n", as: Int.self))" }
        }
        let faults = try await db.read {
            try await $0.raw("SELECT doc FROM cmp_servers WHERE vm_state <> 'building' LIMIT 2").all()
                .map { try $0.decode(column: "doc", as: String.self) }
        }
        #expect(states == ["building: \(count)"], "\(faults)")

        let restarted = cloud.restartedCompute { $0.fakeSpawnDelayMS = 0 }
        let loops = BackgroundLoops(restarted.backgroundServices)
        defer { loops.stop() }
        try await restarted.start()
        await restarted.resumeServers()
        await restarted.settle()

        #expect(try await number("SELECT COUNT(*) AS n FROM cmp_servers WHERE vm_state = 'active' AND task_state IS NULL") == count)
        #expect(try await number("SELECT COUNT(*) AS n FROM net_ports WHERE device_owner LIKE 'compute:%'") == count)
        #expect(try await number("SELECT COUNT(DISTINCT device_id) AS n FROM net_ports WHERE device_owner LIKE 'compute:%'") == count)
        #expect(try await number("""
            SELECT COUNT(*) AS n FROM net_ports WHERE device_owner LIKE 'compute:%' AND device_id NOT IN (SELECT id FROM cmp_servers)
            """) == 0)
        #expect(try await number("SELECT COUNT(*) AS n FROM cmp_allocations") == count)
        #expect(try await number("SELECT COUNT(DISTINCT consumer_id) AS n FROM cmp_allocations") == count)
        let ids = try await db.read { try await $0.raw("SELECT id, host FROM cmp_servers").all() }
        var running = 0
        for row in ids {
            let id = try row.decode(column: "id", as: String.self), host = try row.decode(column: "host", as: String?.self) ?? ""
            if await restarted.hypervisor.powerState(id, host: host) == .running { running += 1 }
        }
        #expect(running == count)
    }
}
