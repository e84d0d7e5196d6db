@testable import BlockStorage
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// What 3.51 to 3.59 add: backups' zone, types' zones and filters, stricter volume bodies, the
/// `/volume-transfers` API with its new fields and pages, and the owners in newer views.
@Suite struct StricterInputAndTransferTests {
    static func at(_ version: String) -> [String: String] { VolumeMicroversionTests.at(version) }

    @Test func zonesTypesAndStricterBodies() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            // 3.51: a backup names the zone of its backup service.
            #expect(try await c.call(.post, "/volume/v3/backups", token: admin, json: ["backup": ["volume_id": .string(volume), "availability_zone": "elsewhere"]],
                                     headers: Self.at("3.51")).status == .notFound)
            #expect(try await c.call(.post, "/volume/v3/backups", token: admin, json: ["backup": ["volume_id": .string(volume), "availability_zone": "nova"]],
                                     headers: Self.at("3.50")).status == .badRequest)
            let backup = try await c.call(.post, "/volume/v3/backups", token: admin, json: ["backup": ["volume_id": .string(volume), "availability_zone": "nova"]],
                                          headers: Self.at("3.51"))
            let backupID = try #require(backup["backup"]?["id"]?.stringValue, "\(backup.body?.text ?? "")")
            try await c.waitFor("backups", backupID, "available", token: admin, seconds: 30)
            // 3.56: who made it.
            #expect(try await c.call(.get, "/volume/v3/backups/\(backupID)", token: admin, headers: Self.at("3.56"))["backup"]?["user_id"]?.stringValue?.isEmpty == false)
            #expect(try await c.call(.get, "/volume/v3/backups/\(backupID)", token: admin, headers: Self.at("3.55"))["backup"]?["user_id"] == nil)

            // 3.52: a type's zones are kept to, and types are found by extra specs.
            _ = try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "far", "extra_specs": ["RESKEY:availability_zones": "az1, az2"]]])
            _ = try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "near", "extra_specs": ["RESKEY:availability_zones": "az1,nova"]]])
            let far = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["size": 1, "volume_type": "far"]])
            #expect(far.status == .badRequest && far["badRequest"]?["message"] == "Volume type is only supported in these availability zones: ['az1', 'az2']")
            _ = try await c.makeVolume(admin, extra: ["volume_type": "near"])
            let found = try await c.call(.get, "/volume/v3/types?extra_specs=%7B%27RESKEY%3Aavailability_zones%27%3A%20%27az1%2Cnova%27%7D", token: admin, headers: Self.at("3.52"))
            #expect(found["volume_types"]?.array.map { $0["name"]?.stringValue } == ["near"])
            let member = try await c.makeMember(admin: admin, name: "typer")
            let memberToken = try await c.token("typer", "pw", project: member.projectName)
            #expect(try await c.call(.get, "/volume/v3/types?bogus=1", token: memberToken, headers: Self.at("3.52")).status == .badRequest)
            #expect(try await c.call(.get, "/volume/v3/types?bogus=1", token: memberToken, headers: Self.at("3.51")).status == .ok)

            // 3.53: keys the schema does not name are refused, and an update must change something.
            #expect(try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["size": 1, "status": "available"]], headers: Self.at("3.53")).status == .badRequest)
            let loose = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["size": 1, "status": "available"]], headers: Self.at("3.52"))
            #expect(loose.status == .accepted)
            #expect(try await c.call(.put, "/volume/v3/volumes/\(volume)", token: admin, json: ["volume": [:]], headers: Self.at("3.53")).status == .badRequest)
            #expect(try await c.call(.put, "/volume/v3/volumes/\(volume)", token: admin, json: ["volume": ["user_id": "x"]], headers: Self.at("3.53")).status == .badRequest)
            #expect(try await c.call(.put, "/volume/v3/volumes/\(volume)", token: admin, json: ["volume": ["name": "renamed"]], headers: Self.at("3.53")).status == .ok)
        }
    }

    @Test func transfersAtTheirNewPathCarryTheirProjectsAndPage() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let giver = try await c.makeMember(admin: admin, name: "giver")
            let giverToken = try await c.token("giver", "pw", project: giver.projectName)
            let taker = try await c.makeMember(admin: admin, name: "taker")
            let takerToken = try await c.token("taker", "pw", project: taker.projectName)
            let volume = try await c.makeVolume(giverToken)
            let snapshot = try #require(try await c.call(.post, "/volume/v3/snapshots", token: giverToken,
                                                         json: ["snapshot": ["volume_id": .string(volume)]])["snapshot"]?["id"]?.stringValue)
            try await c.waitFor("snapshots", snapshot, "available", token: giverToken, seconds: 20)

            #expect(try await c.call(.get, "/volume/v3/volume-transfers", token: giverToken, headers: Self.at("3.54")).status == .notFound)
            // 3.55: the volume alone, without its snapshot; 3.57: the projects and whether it went.
            let made = try await c.call(.post, "/volume/v3/volume-transfers", token: giverToken,
                                        json: ["transfer": ["volume_id": .string(volume), "name": "t1", "no_snapshots": true]], headers: Self.at("3.57"))
            let transfer = try #require(made["transfer"]?["id"]?.stringValue, "\(made.body?.text ?? "")")
            let key = try #require(made["transfer"]?["auth_key"]?.stringValue)
            #expect(made["transfer"]?["source_project_id"]?.stringValue == giver.project && made["transfer"]?["destination_project_id"] == .null
                    && made["transfer"]?["accepted"] == false)
            #expect(try await c.call(.get, "/volume/v3/volume-transfers/\(transfer)", token: giverToken, headers: Self.at("3.56"))["transfer"]?["accepted"] == nil)
            #expect(try await c.call(.get, "/volume/v3/volume-transfers/detail", token: giverToken, headers: Self.at("3.57"))["transfers"]?.array.first?["accepted"] == false)
            #expect(try await c.call(.post, "/volume/v3/volume-transfers/\(transfer)/accept", token: takerToken, json: ["accept": ["auth_key": "wrong"]],
                                     headers: Self.at("3.55")).status == .badRequest)
            #expect(try await c.call(.post, "/volume/v3/volume-transfers/\(transfer)/accept", token: takerToken, json: ["accept": ["auth_key": .string(key)]],
                                     headers: Self.at("3.55")).status == .accepted)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: takerToken)["volume"]?["status"] == "available")
            // The snapshot stayed with the project that had it: the new owner can neither revert to it nor delete it with the volume.
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snapshot)", token: giverToken).status == .ok)
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snapshot)", token: takerToken).status == .notFound)
            let revert = try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: takerToken, json: ["revert": ["snapshot_id": .string(snapshot)]],
                                          headers: Self.at("3.40"))
            #expect(revert.status == .badRequest && revert["badRequest"]?["message"]?.stringValue?.contains("doesn't have any snapshots") == true)
            let cascade = try await c.call(.delete, "/volume/v3/volumes/\(volume)?cascade=true", token: takerToken)
            #expect(cascade.status == .badRequest && cascade["badRequest"]?["message"]?.stringValue?.contains("disassociated from snapshots") == true)
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snapshot)", token: giverToken)["snapshot"]?["status"] == "available")
            // The legacy path always moves snapshots, and only available ones.
            let second = try await c.makeVolume(giverToken)
            let busy = try #require(try await c.call(.post, "/volume/v3/snapshots", token: giverToken,
                                                     json: ["snapshot": ["volume_id": .string(second)]])["snapshot"]?["id"]?.stringValue)
            try await c.waitFor("snapshots", busy, "available", token: giverToken, seconds: 20)
            _ = try await cloud.blockStorage.store.editSnapshot(busy) { $0.status = "error" }
            let refused = try await c.call(.post, "/volume/v3/os-volume-transfer", token: giverToken, json: ["transfer": ["volume_id": .string(second)]])
            #expect(refused.status == .badRequest && refused["badRequest"]?["message"]?.stringValue?.contains("must be available") == true)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(second)", token: giverToken)["volume"]?["status"] == "available")

            // 3.59: sorted and paged.
            for name in ["b", "a", "c"] {
                let v = try await c.makeVolume(takerToken)
                #expect(try await c.call(.post, "/volume/v3/volume-transfers", token: takerToken,
                                         json: ["transfer": ["volume_id": .string(v), "name": .string(name)]], headers: Self.at("3.59")).status == .accepted)
            }
            let page = try await c.call(.get, "/volume/v3/volume-transfers?sort=name:asc&limit=2", token: takerToken, headers: Self.at("3.59"))
            #expect(page["transfers"]?.array.map { $0["name"]?.stringValue } == ["a", "b"] && page["transfers_links"] != nil)
            #expect(try await c.call(.get, "/volume/v3/volume-transfers?sort=name:asc&limit=2", token: takerToken, headers: Self.at("3.58"))["transfers"]?.array.count == 3)
        }
    }

    @Test func groupsShowTheirProject() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let groupType = try #require(try await c.call(.post, "/volume/v3/group_types", token: admin,
                                                          json: ["group_type": ["name": "gt"]], headers: Self.at("3.11"))["group_type"]?["id"]?.stringValue)
            let volumeType = try #require(try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "vt"]])["volume_type"]?["id"]?.stringValue)
            let group = try #require(try await c.call(.post, "/volume/v3/groups", token: admin, json: ["group": [
                "name": "g", "group_type": .string(groupType), "volume_types": [.string(volumeType)]]], headers: Self.at("3.13"))["group"]?["id"]?.stringValue)
            let made = try await c.call(.post, "/volume/v3/group_snapshots", token: admin, json: ["group_snapshot": ["group_id": .string(group)]], headers: Self.at("3.14"))
            let groupSnapshot = try #require(made["group_snapshot"]?["id"]?.stringValue)
            // 3.58: the owning project in group and group snapshot details.
            let project = try #require(try await c.call(.get, "/volume/v3/groups/\(group)", token: admin, headers: Self.at("3.58"))["group"]?["project_id"]?.stringValue)
            #expect(!project.isEmpty)
            #expect(try await c.call(.get, "/volume/v3/group_snapshots/\(groupSnapshot)", token: admin, headers: Self.at("3.58"))["group_snapshot"]?["project_id"]?.stringValue == project)
            #expect(try await c.call(.get, "/volume/v3/groups/\(group)", token: admin, headers: Self.at("3.57"))["group"]?["project_id"] == nil)
        }
    }
}
