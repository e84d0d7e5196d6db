@testable import BlockStorage
import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// What 3.60 to 3.71 add, and that an earlier request does not see it.
@Suite struct NewestMicroversionTests {
    static func at(_ version: String) -> [String: String] { VolumeMicroversionTests.at(version) }

    @Test func timeAndQuotaFiltersAndNewFields() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "timer")
            let token = try await c.token("timer", "pw", project: member.projectName)
            let first = try await c.makeVolume(token, extra: ["name": "first"])
            try await Task.sleep(for: .milliseconds(50))
            let between = Timestamp.microseconds(Date().addingTimeInterval(-0.02), zone: false)
            let second = try await c.makeVolume(token, extra: ["name": "second"])
            func ids(_ query: String, _ version: String = "3.60") async throws -> [String?] {
                try await c.call(.get, "/volume/v3/volumes?\(query)", token: token, headers: Self.at(version))["volumes"]?.array.map { $0["id"]?.stringValue } ?? []
            }
            // 3.60: comparisons of the time each was made; several in one value match when any does, as Cinder ORs them.
            #expect(try await ids("created_at=gt:\(between)") == [second])
            #expect(try await ids("created_at=lte:\(between)") == [first])
            #expect(try await ids("created_at=lt:2000-01-01,gt:\(between)") == [second])
            #expect(try await Set(ids("created_at=gte:2000-01-01T00:00:00Z")) == [first, second])
            #expect(try await ids("created_at=gt:2999") == [])
            #expect(try await Set(ids("updated_at=lt:2999-01-01T00:00:00%2B02:00")) == [first, second])
            // Before 3.31 the filter is dropped, as Cinder drops filters it does not know there.
            #expect(try await ids("created_at=gt:2999", "3.30").count == 2)
            let badOperator = try await c.call(.get, "/volume/v3/volumes?created_at=2020-01-01", token: token, headers: Self.at("3.60"))
            #expect(badOperator.status == .badRequest && badOperator["badRequest"]?["message"] == "Invalid 2020-01-01 operator")
            let badTime = try await c.call(.get, "/volume/v3/volumes?created_at=gt:yesterday", token: token, headers: Self.at("3.60"))
            #expect(badTime.status == .badRequest && badTime["badRequest"]?["message"] == "Invalid yesterday value")
            #expect(try await c.call(.get, "/volume/v3/volumes?created_at=gt:2020-02-30", token: token, headers: Self.at("3.60")).status == .badRequest)

            // 3.65: every volume and snapshot counts against quota.
            #expect(try await ids("consumes_quota=false", "3.65") == [])
            #expect(try await ids("consumes_quota=true", "3.65").count == 2)
            let badBool = try await c.call(.get, "/volume/v3/volumes?consumes_quota=maybe", token: token, headers: Self.at("3.65"))
            #expect(badBool["badRequest"]?["message"] == "Value 'maybe' for 'use_quota' is not a boolean.")

            // 3.61 (admins), 3.63 and 3.65 in the volume's details, none of them before.
            let typeID = try #require(try await c.call(.get, "/volume/v3/types/default", token: token)["volume_type"]?["id"]?.stringValue)
            let shown = try await c.call(.get, "/volume/v3/volumes/\(first)", token: token, headers: Self.at("3.65"))["volume"]
            #expect(shown?["volume_type_id"]?.stringValue == typeID && shown?["consumes_quota"] == true && shown?["cluster_name"] == nil)
            #expect(shown?["encryption_key_id"] == nil)
            let asAdmin = try await c.call(.get, "/volume/v3/volumes/\(first)", token: admin, headers: Self.at("3.61"))["volume"]
            #expect(asAdmin?.objectValue?.keys.contains("cluster_name") == true && asAdmin?["volume_type_id"] == nil)
            let older = try await c.call(.get, "/volume/v3/volumes/\(first)", token: admin, headers: Self.at("3.60"))["volume"]
            #expect(older?["cluster_name"] == nil && older?["volume_type_id"] == nil && older?["consumes_quota"] == nil)
            let created = try await c.call(.post, "/volume/v3/volumes", token: token, json: ["volume": ["size": 1]], headers: Self.at("3.71"))["volume"]
            #expect(created?["volume_type_id"]?.stringValue == typeID && created?["consumes_quota"] == true)

            // 3.66: a snapshot of an in-use volume needs no `force`, and `force: false` is refused.
            let attachment = try await c.call(.post, "/volume/v3/attachments", token: token, json: ["attachment": [
                "volume_uuid": .string(first), "instance_uuid": .string(Identifier.uuid()), "connector": ["host": "h", "initiator": "i"]]],
                headers: Self.at("3.44"))["attachment"]?["id"]?.stringValue
            _ = try await c.call(.post, "/volume/v3/attachments/\(try #require(attachment))/action", token: token, json: ["os-complete": nil], headers: Self.at("3.44"))
            try await c.waitForVolume(first, "in-use", token: token)
            let snapshot: JSON = ["snapshot": ["volume_id": .string(first)]]
            #expect(try await c.call(.post, "/volume/v3/snapshots", token: token, json: snapshot, headers: Self.at("3.65")).status == .badRequest)
            let refusedForce = try await c.call(.post, "/volume/v3/snapshots", token: token, json: ["snapshot": ["volume_id": .string(first), "force": false]],
                                                headers: Self.at("3.66"))
            #expect(refusedForce["badRequest"]?["message"]?.stringValue?.hasPrefix("Since microversion 3.66 the 'force' flag is invalid") == true)
            let taken = try await c.call(.post, "/volume/v3/snapshots", token: token, json: snapshot, headers: Self.at("3.66"))
            #expect(taken.status == .accepted && taken["snapshot"]?["consumes_quota"] == true)
            let listed = try await c.call(.get, "/volume/v3/snapshots", token: token, headers: Self.at("3.66"))["snapshots"]?.array.first
            #expect(listed?["consumes_quota"] == nil)
            #expect(try await c.call(.get, "/volume/v3/snapshots?consumes_quota=0", token: token, headers: Self.at("3.66"))["snapshots"] == [])
        }
    }

    @Test func projectsHaveTheirOwnDefaultTypes() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "typed")
            let token = try await c.token("typed", "pw", project: member.projectName)
            let fast = try #require(try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "fast"]])["volume_type"]?["id"]?.stringValue)
            let path = "/volume/v3/default-types/\(member.project)"
            let set = ["default_type": ["volume_type": "fast"]] as JSON

            #expect(try await c.call(.put, path, token: admin, json: set, headers: Self.at("3.61")).status == .notFound)
            #expect(try await c.call(.put, path, token: token, json: set, headers: Self.at("3.62")).status == .forbidden)
            let unknownProject = try await c.call(.put, "/volume/v3/default-types/\(Identifier.hex())", token: admin, json: set, headers: Self.at("3.62"))
            #expect(unknownProject.status == .notFound && unknownProject["itemNotFound"]?["message"]?.stringValue?.hasPrefix("Project with id") == true)
            let unknownType = try await c.call(.put, path, token: admin, json: ["default_type": ["volume_type": "slow"]], headers: Self.at("3.62"))
            #expect(unknownType.status == .badRequest && unknownType["badRequest"]?["message"] == "Volume type with name slow could not be found.")
            #expect(try await c.call(.put, path, token: admin, json: ["default_type": ["volume_type": "fast", "x": 1]], headers: Self.at("3.62")).status == .badRequest)
            #expect(try await c.call(.put, path, token: admin, json: ["other": 1], headers: Self.at("3.62")).status == .badRequest)
            #expect(try await c.call(.get, path, token: admin, headers: Self.at("3.62")).status == .notFound)

            let made = try await c.call(.put, path, token: admin, json: set, headers: Self.at("3.62"))
            #expect(made.status == .ok && made["default_type"] == ["project_id": .string(member.project), "volume_type_id": .string(fast)])
            #expect(try await c.call(.get, path, token: admin, headers: Self.at("3.62"))["default_type"]?["volume_type_id"]?.stringValue == fast)
            #expect(try await c.call(.get, "/volume/v3/default-types", token: admin, headers: Self.at("3.62"))["default_types"]?.array.count == 1)
            #expect(try await c.call(.get, "/volume/v3/default-types", token: token, headers: Self.at("3.62")).status == .forbidden)

            // The project's new volumes take it, and `/types/default` names it, for that project only.
            let volume = try await c.makeVolume(token)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: token)["volume"]?["volume_type"] == "fast")
            #expect(try await c.call(.get, "/volume/v3/types/default", token: token)["volume_type"]?["name"] == "fast")
            #expect(try await c.call(.get, "/volume/v3/types/default", token: admin)["volume_type"]?["name"] == "__DEFAULT__")
            let adminsVolume = try await c.makeVolume(admin)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(adminsVolume)", token: admin)["volume"]?["volume_type"] == "__DEFAULT__")

            // A type that is some project's default stays.
            _ = try await c.call(.delete, "/volume/v3/volumes/\(volume)", token: token)
            try await c.waitForVolume(volume, "deleted", token: token)
            let kept = try await c.call(.delete, "/volume/v3/types/\(fast)", token: admin)
            #expect(kept.status == .badRequest && kept["badRequest"]?["message"]?.stringValue == "The volume type \(fast) is a default volume type and cannot be deleted.")
            #expect(try await c.call(.delete, path, token: token, headers: Self.at("3.62")).status == .forbidden)
            #expect(try await c.call(.delete, path, token: admin, headers: Self.at("3.62")).status == .noContent)
            #expect(try await c.call(.get, path, token: admin, headers: Self.at("3.62")).status == .notFound)
            #expect(try await c.call(.delete, "/volume/v3/types/\(fast)", token: admin).status == .accepted)
        }
    }

    @Test func reimageAndExtendCompletion() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "reimager")
            let token = try await c.token("reimager", "pw", project: member.projectName)
            func image(_ name: String) async throws -> String {
                let made = try await c.call(.post, "/image/v2/images", token: admin,
                                            json: ["name": .string(name), "disk_format": "raw", "container_format": "bare", "visibility": "public"])
                let id = try #require(made["id"]?.stringValue)
                _ = try await c.call(.put, "/image/v2/images/\(id)/file", token: admin, raw: Array("disk".utf8), headers: ["Content-Type": "application/octet-stream"])
                return id
            }
            let (first, second) = (try await image("first"), try await image("second"))
            let volume = try await c.makeVolume(token, extra: ["imageRef": .string(first)])
            let action = "/volume/v3/volumes/\(volume)/action"
            func reimage(_ body: JSON, _ version: String = "3.68") async throws -> Reply {
                try await c.call(.post, action, token: token, json: ["os-reimage": body], headers: Self.at(version))
            }
            #expect(try await reimage(["image_id": .string(second)], "3.67").status == .notFound)
            #expect(try await reimage(["image_id": "not-a-uuid"]).status == .badRequest)
            #expect(try await reimage(["image_id": .string(second), "other": 1]).status == .badRequest)
            let missing = try await reimage(["image_id": .string(Identifier.uuid())])
            #expect(missing.status == .notFound && missing["itemNotFound"]?["message"]?.stringValue?.hasPrefix("Image ") == true)

            // The volume keeps its ID and size and takes the new image's bytes and attributes.
            #expect(try await reimage(["image_id": .string(second)]).status == .accepted)
            let after = try await c.waitForVolume(volume, "available", token: token)["volume"]
            #expect(after?["volume_image_metadata"]?["image_id"]?.stringValue == second && after?["bootable"] == "true" && after?["size"] == 1)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.origin(volume) == "image \(second)")

            // A volume reserved for a server is re-imaged only when the request says so (Nova's rebuild).
            let reserved = try await c.call(.post, "/volume/v3/attachments", token: token,
                                            json: ["attachment": ["volume_uuid": .string(volume), "instance_uuid": .string(Identifier.uuid())]],
                                            headers: Self.at("3.27"))
            #expect(reserved.status == .ok)
            try await c.waitForVolume(volume, "reserved", token: token)
            let refused = try await reimage(["image_id": .string(first)])
            #expect(refused["badRequest"]?["message"]?.stringValue == "Invalid volume: Volume \(volume) status must be available or error, but current status is reserved.")
            #expect(try await reimage(["image_id": .string(first), "reimage_reserved": true]).status == .accepted)
            let back = try await c.waitForVolume(volume, "reserved", token: token)["volume"]
            #expect(back?["volume_image_metadata"]?["image_id"]?.stringValue == first)

            // 3.71's completion, an admin's: no volume here waits for it.
            let completion = ["os-extend_volume_completion": ["error": false]] as JSON
            #expect(try await c.call(.post, action, token: token, json: completion, headers: Self.at("3.71")).status == .forbidden)
            let notExtending = try await c.call(.post, action, token: admin, json: completion, headers: Self.at("3.71"))
            #expect(notExtending["badRequest"]?["message"] == "Invalid volume: Volume is not being extended.")

            // The newest version served, and one past it.
            let versions = try await c.call(.get, "/volume/v3/volumes", token: token, headers: Self.at("latest"))
            #expect(versions.header("OpenStack-API-Version") == "volume 3.71")
            #expect(try await c.call(.get, "/volume/v3/volumes", token: token, headers: Self.at("3.72")).status == .notAcceptable)
        }
    }
}
