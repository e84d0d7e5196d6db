import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
import Testing
@testable import Networking

/// A network cloud whose Identity also has the `manager` role, which metering policy names.
private func meteringCloud(_ backend: TestBackend) async throws -> TestCloud {
    try await TestCloud.make(backend, migrations: NetworkService.migrations, roles: ["manager"], services: { db, config, _ in
        [try NetworkService(database: db, config: config, backend: FakeNetworkBackend(config: config))]
    })
}

/// Metering labels and rules (`/v2.0/metering/...`): definitions only, no counting.
@Suite struct MeteringTests {
    static let labels = "/network/v2.0/metering/metering-labels"
    static let rules = "/network/v2.0/metering/metering-label-rules"

    @Test(arguments: TestBackend.available)
    func labelsAndRules(_ backend: TestBackend) async throws {
        let cloud = try await meteringCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let label = try await c.create("metering/metering-labels", "metering_label", admin, ["name": "l", "description": "d"])
            #expect(Set(label.objectValue?.keys.map { $0 } ?? []) == ["id", "name", "description", "shared", "project_id", "tenant_id"])
            #expect(label["shared"] == false && label["description"] == "d")
            let labelID = label["id"]!.stringValue!
            func rule(_ body: JSON) async throws -> Reply {
                try await c.call(.post, Self.rules, token: admin, json: ["metering_label_rule": body])
            }

            let made = try await rule(["metering_label_id": .string(labelID), "direction": "ingress", "remote_ip_prefix": "10.0.0.0/24"])
            #expect(made.status == .created)
            let first = try #require(made["metering_label_rule"])
            #expect(first == ["id": first["id"]!, "metering_label_id": .string(labelID), "direction": "ingress", "excluded": false,
                              "remote_ip_prefix": "10.0.0.0/24", "source_ip_prefix": nil, "destination_ip_prefix": nil])
            // Overlapping remote prefixes clash only within one direction and kind.
            let overlap = try await rule(["metering_label_id": .string(labelID), "direction": "ingress", "remote_ip_prefix": "10.0.0.128/25"])
            #expect(overlap.status == .conflict && overlap.faultType == "MeteringLabelRuleOverlaps")
            #expect(try await rule(["metering_label_id": .string(labelID), "direction": "egress", "remote_ip_prefix": "10.0.0.128/25"]).status == .created)
            #expect(try await rule(["metering_label_id": .string(labelID), "direction": "ingress", "remote_ip_prefix": "10.0.0.0/24", "excluded": true]).status == .created)
            // Prefixes are kept as Neutron keeps them: host bits stay, a bare address is a /32.
            let sourced = try await rule(["metering_label_id": .string(labelID), "direction": "egress", "source_ip_prefix": "10.1.0.5",
                                          "destination_ip_prefix": "10.2.0.1/24"])
            #expect(sourced["metering_label_rule"]?["source_ip_prefix"] == "10.1.0.5/32")
            #expect(sourced["metering_label_rule"]?["destination_ip_prefix"] == "10.2.0.1/24")
            #expect(sourced["metering_label_rule"]?["remote_ip_prefix"] == .null)

            // Validation, in Neutron's order and with its fault types.
            let missingDirection = try await rule(["metering_label_id": .string(labelID), "remote_ip_prefix": "10.5.0.0/24"])
            #expect(missingDirection.status == .badRequest)
            #expect(try await rule(["metering_label_id": .string(labelID), "direction": "up", "remote_ip_prefix": "10.5.0.0/24"]).status == .badRequest)
            #expect(try await rule(["direction": "ingress", "remote_ip_prefix": "10.5.0.0/24"]).status == .badRequest)
            #expect(try await rule(["metering_label_id": "nope", "direction": "ingress", "remote_ip_prefix": "10.5.0.0/24"]).status == .badRequest)
            let both = try await rule(["metering_label_id": .string(labelID), "direction": "ingress", "remote_ip_prefix": "10.5.0.0/24", "source_ip_prefix": "10.6.0.0/24"])
            #expect(both.status == .badRequest && both.faultType == "Invalid")
            let neither = try await rule(["metering_label_id": .string(labelID), "direction": "ingress"])
            #expect(neither.status == .badRequest && neither.faultType == "Invalid")
            #expect(try await rule(["metering_label_id": .string(labelID), "direction": "ingress", "remote_ip_prefix": "10.5.0.0/33"]).faultType == "Invalid")
            #expect(try await rule(["metering_label_id": .string(labelID), "direction": "ingress", "remote_ip_prefix": "10.5.0.0/24", "colour": "red"]).status == .badRequest)
            let orphan = try await rule(["metering_label_id": .string(UUID().uuidString.lowercased()), "direction": "ingress", "remote_ip_prefix": "10.5.0.0/24"])
            #expect(orphan.status == .notFound && orphan.faultType == "MeteringLabelNotFound")

            // Listing, filters (tempest filters on an id that is no UUID) and show.
            #expect(try await c.call(.get, "\(Self.labels)?id=33", token: admin)["metering_labels"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "\(Self.rules)?id=33", token: admin)["metering_label_rules"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "\(Self.rules)?metering_label_id=\(labelID)", token: admin)["metering_label_rules"]?.array.count == 4)
            #expect(try await c.call(.get, "\(Self.rules)?direction=egress", token: admin)["metering_label_rules"]?.array.count == 2)
            let ruleID = first["id"]!.stringValue!
            #expect(try await c.call(.get, "\(Self.rules)/\(ruleID)", token: admin)["metering_label_rule"] == first)
            #expect(try await c.call(.get, "\(Self.labels)/\(labelID)", token: admin)["metering_label"] == label)

            // Nothing can be changed after creation.
            #expect(try await c.call(.put, "\(Self.labels)/\(labelID)", token: admin, json: ["metering_label": ["name": "x"]]).status == .badRequest)
            #expect(try await c.call(.put, "\(Self.labels)/\(labelID)", token: admin, json: ["metering_label": [:]]).status == .notImplemented)
            #expect(try await c.call(.put, "\(Self.rules)/\(ruleID)", token: admin, json: ["metering_label_rule": ["excluded": true]]).status == .badRequest)

            // A rule can be deleted alone; a label takes its remaining rules with it.
            #expect(try await c.call(.delete, "\(Self.rules)/\(ruleID)", token: admin).status == .noContent)
            let gone = try await c.call(.get, "\(Self.rules)/\(ruleID)", token: admin)
            #expect(gone.status == .notFound && gone.faultType == "MeteringLabelRuleNotFound")
            #expect(try await c.call(.delete, "\(Self.labels)/\(labelID)", token: admin).status == .noContent)
            #expect(try await c.call(.get, Self.rules, token: admin)["metering_label_rules"]?.array.isEmpty == true)
            let missing = try await c.call(.get, "\(Self.labels)/\(labelID)", token: admin)
            #expect(missing.status == .notFound && missing.faultType == "MeteringLabelNotFound")
        }
    }

    @Test func membersReadTheirProjectsMeteringAndOnlyManagersDefineIt() async throws {
        let cloud = try await meteringCloud(.sqlite)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "per", password: "pw")
            let m = try await c.makeMember(admin: admin, name: "mona", password: "pw", role: "manager")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let per = try await c.token("per", "pw", project: b.projectName)
            let mona = try await c.token("mona", "pw", project: m.projectName)

            // A plain member may not define metering, not even for its own project.
            let refused = try await c.call(.post, Self.labels, token: ola, json: ["metering_label": ["name": "x"]])
            #expect(refused.status == .forbidden && refused.faultType == "PolicyNotAuthorized")
            let forOla = try await c.create("metering/metering-labels", "metering_label", admin, ["name": "ola's", "project_id": .string(a.project)])
            let olaLabel = forOla["id"]!.stringValue!
            let olaRule = try await c.create("metering/metering-label-rules", "metering_label_rule", admin, [
                "metering_label_id": .string(olaLabel), "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8"])
            #expect(try await c.call(.post, Self.rules, token: ola, json: ["metering_label_rule": [
                "metering_label_id": .string(olaLabel), "direction": "egress", "remote_ip_prefix": "10.0.0.0/8"]]).status == .forbidden)
            #expect(try await c.call(.delete, "\(Self.labels)/\(olaLabel)", token: ola).status == .forbidden)
            #expect(try await c.call(.delete, "\(Self.rules)/\(olaRule["id"]!.stringValue!)", token: ola).status == .forbidden)
            // It reads its own project's, and nothing of another project's (shared or not).
            #expect(try await c.call(.get, Self.labels, token: ola)["metering_labels"]?.array.map { $0["id"] } == [forOla["id"]])
            #expect(try await c.call(.get, Self.rules, token: ola)["metering_label_rules"]?.array.map { $0["id"] } == [olaRule["id"]])
            _ = try await c.create("metering/metering-labels", "metering_label", admin, ["name": "all", "shared": true])
            #expect(try await c.call(.get, Self.labels, token: per)["metering_labels"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "\(Self.labels)/\(olaLabel)", token: per).status == .notFound)
            #expect(try await c.call(.get, "\(Self.rules)/\(olaRule["id"]!.stringValue!)", token: per).status == .notFound)

            // A project manager defines its own project's metering, and only that.
            let monaLabel = try await c.create("metering/metering-labels", "metering_label", mona, ["name": "mine"])
            #expect(monaLabel["project_id"] == .string(m.project))
            #expect(try await c.call(.post, Self.labels, token: mona, json: ["metering_label": ["project_id": .string(a.project)]]).status == .badRequest)
            let foreign = try await c.call(.post, Self.rules, token: mona, json: ["metering_label_rule": [
                "metering_label_id": .string(olaLabel), "direction": "egress", "remote_ip_prefix": "10.0.0.0/8"]])
            #expect(foreign.status == .notFound && foreign.faultType == "MeteringLabelNotFound")
            let monaRule = try await c.create("metering/metering-label-rules", "metering_label_rule", mona, [
                "metering_label_id": monaLabel["id"]!, "direction": "egress", "destination_ip_prefix": "0.0.0.0/0"])
            #expect(monaRule["project_id"] == nil)
            #expect(try await c.call(.delete, "\(Self.labels)/\(olaLabel)", token: mona).status == .notFound)
            #expect(try await c.call(.delete, "\(Self.rules)/\(monaRule["id"]!.stringValue!)", token: mona).status == .noContent)
            #expect(try await c.call(.delete, "\(Self.labels)/\(monaLabel["id"]!.stringValue!)", token: mona).status == .noContent)
        }
    }
}
