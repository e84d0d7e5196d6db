@testable import Compute
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// Rules checked inside handlers go through the policy table, so overriding one changes the answer.
@Suite struct ComputePolicyTests {
    @Test func handlerChecksAreNamedRulesOfTheTable() {
        for rule in [ComputePolicy.contextIsAdmin, "os_compute_api:servers:allow_all_filters", "os_compute_api:servers:show:host_status",
                     "os_compute_api:servers:create:forced_host", "os_compute_api:os-admin-actions:reset_state",
                     "os_compute_api:os-migrate-server:migrate", "os_compute_api:os-migrate-server:migrate_live", "os_compute_api:os-evacuate",
                     "os_compute_api:os-shelve:unshelve_to_host", "os_compute_api:os-lock-server:unlock:unlock_override",
                     "os_compute_api:os-server-groups:index:all_projects", "os_compute_api:limits:other_project",
                     "compute:server:topology:host:index", "os_compute_api:os-extended-server-attributes"] {
            #expect(ComputePolicy.table.rules[rule] != nil, "\(rule) is not in the table")
        }
    }

    @Test func overridingARuleChangesTheOutcome() async throws {
        // Members may list every project's servers; nobody sees the extended attributes.
        let cloud = try await computeCloud(policyOverrides: [
            "os_compute_api:servers:detail:get_all_tenants": ComputePolicy.memberOrAdmin,
            "os_compute_api:os-extended-server-attributes": .nobody,
        ])
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            await cloud.compute.settle()
            let m = try await c.makeMember(admin: admin, name: "max", password: "pw")
            let max = try await c.token("max", "pw", project: m.projectName)

            let all = try await c.call(.get, "/compute/v2.1/servers/detail?all_tenants=True", token: max)
            #expect(all.status == .ok, "the overridden rule lets the member list every project")
            #expect(all["servers"]?.array.map { $0["id"]?.stringValue } == [id])
            // The rule not overridden still refuses.
            #expect(try await c.call(.get, "/compute/v2.1/servers?all_tenants=1", token: max).status == .forbidden)

            let shown = try #require(try await c.server(admin, id))
            #expect(shown["OS-EXT-SRV-ATTR:host"] == nil, "the admin lost the extended attributes with the rule")
            #expect(shown["OS-EXT-STS:vm_state"] == "active")
        }
    }

    @Test func theDefaultsStillShowAdminsTheExtendedAttributes() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["OS-EXT-SRV-ATTR:host"]?.stringValue != nil)
            let m = try await c.makeMember(admin: admin, name: "max", password: "pw")
            let max = try await c.token("max", "pw", project: m.projectName)
            #expect(try await c.call(.get, "/compute/v2.1/servers/detail?all_tenants=True", token: max).status == .forbidden)
        }
    }
}
