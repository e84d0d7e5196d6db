@testable import BlockStorage
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// What 3.1 to 3.27 add (3.28 to 3.41: LaterMicroversionTests; 3.42 to 3.50: AttachedAndRestoredVolumeTests), and that a request at 3.0 does not see it (the attachments of 3.27: AttachmentTests).
@Suite struct VolumeMicroversionTests {
    static func at(_ version: String) -> [String: String] { ["OpenStack-API-Version": "volume \(version)"] }

    @Test func aTypeNoBackendSatisfiesLeavesAVolumeInErrorAndAMessage() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let root = try await c.call(.get, "/volume/v3/", token: admin)
            #expect(root["versions"]?.array.first?["version"] == "3.71", "\(root.body?.text ?? "")")
            #expect(try await c.call(.get, "/volume/v3/messages", token: admin, headers: Self.at("3.72")).status == .notAcceptable)

            // Cinder's capabilities filter: extra specs the backend does not offer find no backend.
            let bogus = try await c.call(.post, "/volume/v3/types", token: admin,
                                         json: ["volume_type": ["name": "bogus", "extra_specs": ["vendor_name": "Nobody", "storage_protocol": "x"]]])
            let fitting = try await c.call(.post, "/volume/v3/types", token: admin,
                                           json: ["volume_type": ["name": "fitting", "extra_specs": ["vendor_name": "Martlet", "multiattach": "<is> True",
                                                                                                     "capabilities:storage_protocol": "<in> fil",
                                                                                                     "qos:read_iops": "100"]]])
            #expect(bogus.status == .ok && fitting.status == .ok)
            let fine = try await c.makeVolume(admin, extra: ["volume_type": "fitting"])
            let failed = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["size": 1, "volume_type": "bogus"]])
            let failedID = try #require(failed["volume"]?["id"]?.stringValue)
            try await c.waitForVolume(failedID, "error", token: admin)

            // The message (3.3), not at 3.0; sorted and paged from 3.5.
            #expect(try await c.call(.get, "/volume/v3/messages", token: admin).status == .notFound)
            let listed = try await c.call(.get, "/volume/v3/messages?resource_uuid=\(failedID)", token: admin, headers: Self.at("3.3"))
            let message = try #require(listed["messages"]?.array.first)
            #expect(message["event_id"] == "VOLUME_VOLUME_001_002" && message["message_level"] == "ERROR" && message["resource_type"] == "VOLUME")
            #expect(message["user_message"]?.stringValue?.contains("Could not find any available weighted backend") == true)
            let id = try #require(message["id"]?.stringValue)
            #expect(try await c.call(.get, "/volume/v3/messages/\(id)", token: admin, headers: Self.at("3.3"))["message"]?["id"]?.stringValue == id)
            let paged = try await c.call(.get, "/volume/v3/messages?limit=1&sort=created_at:desc", token: admin, headers: Self.at("3.5"))
            #expect(paged["messages"]?.array.count == 1 && paged["messages_links"] != nil)
            // Another project sees none of it; a member deletes its own.
            let other = try await c.makeMember(admin: admin, name: "other")
            let otherToken = try await c.token("other", "pw", project: other.projectName)
            #expect(try await c.call(.get, "/volume/v3/messages", token: otherToken, headers: Self.at("3.3"))["messages"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/messages/\(id)", token: otherToken, headers: Self.at("3.3")).status == .notFound)
            #expect(try await c.call(.delete, "/volume/v3/messages/\(id)", token: admin, headers: Self.at("3.3")).status == .noContent)
            #expect(try await c.call(.get, "/volume/v3/messages/\(id)", token: admin, headers: Self.at("3.3")).status == .notFound)
            _ = fine
        }
    }

    @Test func laterMicroversionsAddFiltersFieldsAndRoutes() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            try await cloud.blockStorage.store.editVolume(volume) { $0.imageMetadata = ["image_name": "cirros"] }
            _ = try await c.makeVolume(admin)

            // 3.4: the glance_metadata filter, ignored before.
            let filter = "/volume/v3/volumes?glance_metadata=%7B%27image_name%27%3A%20%27cirros%27%7D"
            #expect(try await c.call(.get, filter, token: admin, headers: Self.at("3.4"))["volumes"]?.array.map { $0["id"]?.stringValue } == [volume])
            #expect(try await c.call(.get, filter, token: admin)["volumes"]?.array.count == 2)
            // 3.10: no volume is in a group.
            #expect(try await c.call(.get, "/volume/v3/volumes?group_id=x", token: admin, headers: Self.at("3.10"))["volumes"]?.array.isEmpty == true)

            // 3.1: the uploaded image's visibility and protection, a public one only for admins.
            let upload = try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: admin, json: ["os-volume_upload_image": ["image_name": "shared-one", "visibility": "shared", "protected": true]], headers: Self.at("3.1"))
            #expect(upload["os-volume_upload_image"]?["visibility"] == "shared" && upload["os-volume_upload_image"]?["protected"] == true)
            let imageID = try #require(upload["os-volume_upload_image"]?["image_id"]?.stringValue)
            let image = try await c.call(.get, "/image/v2/images/\(imageID)", token: admin)
            #expect(image["visibility"] == "shared" && image["protected"] == true)
            try await c.waitForVolume(volume, "available", token: admin)
            let owner = try await c.makeMember(admin: admin, name: "owner")
            let ownerToken = try await c.token("owner", "pw", project: owner.projectName)
            let own = try await c.makeVolume(ownerToken)
            let public_ = try await c.call(.post, "/volume/v3/volumes/\(own)/action", token: ownerToken, json: ["os-volume_upload_image": ["image_name": "mine", "visibility": "public"]], headers: Self.at("3.1"))
            #expect(public_.status == .forbidden)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(own)/action", token: ownerToken, json: ["os-volume_upload_image": ["image_name": "mine", "visibility": "everyone"]], headers: Self.at("3.1")).status == .badRequest)
            #expect(try await cloud.blockStorage.store.volume(own)?.status == "available", "a refused upload leaves the volume as it was")

            // 3.7: services name their (absent) cluster; no clusters. 3.8: nothing unmanaged.
            let services = try await c.call(.get, "/volume/v3/os-services", token: admin, headers: Self.at("3.7"))["services"]?.array ?? []
            #expect(!services.isEmpty && services.allSatisfy { $0["cluster"] == .null && $0.objectValue?.keys.contains("cluster") == true })
            #expect(try await c.call(.get, "/volume/v3/os-services", token: admin)["services"]?.array.first?.objectValue?.keys.contains("cluster") == false)
            #expect(try await c.call(.get, "/volume/v3/clusters", token: admin, headers: Self.at("3.7"))["clusters"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/clusters", token: admin).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/clusters", token: ownerToken, headers: Self.at("3.7")).status == .forbidden)
            #expect(try await c.call(.get, "/volume/v3/manageable_snapshots/detail", token: admin, headers: Self.at("3.8"))["manageable-snapshots"]?.array.isEmpty == true)

            // 3.9: a backup's name and description change.
            let backup = try await c.makeBackup(admin, volume: volume)
            #expect(try await c.call(.put, "/volume/v3/backups/\(backup)", token: admin, json: ["backup": ["name": "x"]]).status == .notFound)
            let renamed = try await c.call(.put, "/volume/v3/backups/\(backup)", token: admin, json: ["backup": ["name": "renamed", "description": "d"]], headers: Self.at("3.9"))
            #expect(renamed.status == .ok && renamed["backup"]?["name"] == "renamed")
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)", token: admin)["backup"]?["description"] == "d")
            #expect(try await c.call(.put, "/volume/v3/backups/\(backup)", token: admin, json: ["backup": ["size": 5]], headers: Self.at("3.9")).status == .badRequest)
            // 3.18: a backup names its project.
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)", token: admin, headers: Self.at("3.18"))["backup"]?["os-backup-project-attr:project_id"] != nil)
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)", token: admin)["backup"]?["os-backup-project-attr:project_id"] == nil)

            // 3.15: an update that sends back a stale ETag loses (412); the current one wins.
            let read = try await c.call(.get, "/volume/v3/volumes/\(volume)/metadata", token: admin, headers: Self.at("3.15"))
            let etag = try #require(read.header("ETag"))
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)/metadata", token: admin).header("ETag") == nil)
            #expect(try await c.call(.put, "/volume/v3/volumes/\(volume)/metadata", token: admin, json: ["metadata": ["a": "1"]],
                                     headers: ["OpenStack-API-Version": "volume 3.15", "If-Match": etag]).status == .ok)
            let stale = try await c.call(.put, "/volume/v3/volumes/\(volume)/metadata/a", token: admin, json: ["meta": ["a": "2"]],
                                         headers: ["OpenStack-API-Version": "volume 3.15", "If-Match": etag])
            #expect(stale.status == .preconditionFailed)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)/metadata", token: admin)["metadata"] == ["a": "1"])
        }
    }

    @Test func providerIDSnapshotMetadataForcedDeleteAndCleanup() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let owner = try await c.makeMember(admin: admin, name: "owner")
            let ownerToken = try await c.token("owner", "pw", project: owner.projectName)
            let volume = try await c.makeVolume(ownerToken)
            // 3.21: admins see the backend's name for a volume (none for files); members never.
            let path = "/volume/v3/volumes/\(volume)"
            #expect(try await c.call(.get, path, token: admin, headers: Self.at("3.21"))["volume"]?.objectValue?.keys.contains("provider_id") == true)
            #expect(try await c.call(.get, path, token: admin, headers: Self.at("3.20"))["volume"]?.objectValue?.keys.contains("provider_id") == false)
            #expect(try await c.call(.get, path, token: ownerToken, headers: Self.at("3.21"))["volume"]?.objectValue?.keys.contains("provider_id") == false)

            // 3.22: snapshots filtered by their metadata (ignored before).
            for (name, tier) in [("a", "gold"), ("b", "iron")] {
                let made = try await c.call(.post, "/volume/v3/snapshots", token: ownerToken,
                                            json: ["snapshot": ["volume_id": .string(volume), "name": .string(name), "metadata": ["tier": .string(tier)]]])
                try await c.waitFor("snapshots", try #require(made["snapshot"]?["id"]?.stringValue), "available", token: ownerToken, seconds: 20)
            }
            let gold = "/volume/v3/snapshots?metadata=%7B%27tier%27%3A%27gold%27%7D"
            #expect(try await c.call(.get, gold, token: ownerToken, headers: Self.at("3.22"))["snapshots"]?.array.map { $0["name"] } == ["a"])
            #expect(try await c.call(.get, gold, token: ownerToken, headers: Self.at("3.21"))["snapshots"]?.array.count == 2)
            #expect(try await c.call(.get, "/volume/v3/snapshots?metadata=oops", token: ownerToken, headers: Self.at("3.22")).status == .badRequest)

            // 3.23: `force` deletes a volume stuck in a status delete refuses; only for admins.
            let stuck = try await c.makeVolume(ownerToken)
            try await cloud.blockStorage.store.editVolume(stuck) { $0.status = "maintenance" }
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(stuck)?force=true", token: admin, headers: Self.at("3.22")).status == .badRequest)
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(stuck)?force=true", token: ownerToken, headers: Self.at("3.23")).status == .forbidden)
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(stuck)?force=true", token: admin, headers: Self.at("3.23")).status == .accepted)
            try await c.waitFor("volumes", stuck, "deleted", token: admin, seconds: 20)

            // 3.24: nothing to clean up after; 3.26: no replication to fail over to, no cluster to freeze.
            let cleanup = try await c.call(.post, "/volume/v3/workers/cleanup", token: admin, json: [:], headers: Self.at("3.24"))
            #expect(cleanup.status == .accepted && cleanup["cleaning"] == [] && cleanup["unavailable"] == [])
            #expect(try await c.call(.post, "/volume/v3/workers/cleanup", token: admin, headers: Self.at("3.24")).status == .accepted)
            #expect(try await c.call(.post, "/volume/v3/workers/cleanup", token: admin, json: ["x": 1], headers: Self.at("3.24")).status == .badRequest)
            #expect(try await c.call(.post, "/volume/v3/workers/cleanup", token: admin, json: [:], headers: Self.at("3.23")).status == .notFound)
            #expect(try await c.call(.post, "/volume/v3/workers/cleanup", token: ownerToken, json: [:], headers: Self.at("3.24")).status == .forbidden)
            #expect(try await c.call(.put, "/volume/v3/os-services/failover", token: admin, json: ["host": "x"], headers: Self.at("3.26")).status == .badRequest)
            #expect(try await c.call(.put, "/volume/v3/os-services/failover", token: admin, json: ["host": "x"], headers: Self.at("3.25")).status == .notFound)
            #expect(try await c.call(.put, "/volume/v3/os-services/freeze", token: admin, json: ["cluster": "c"], headers: Self.at("3.26")).status == .notFound)
        }
    }

    /// Generic groups: types (3.11), the volume summary (3.12), groups with volumes (3.13), group
    /// snapshots and groups made from them or from another group (3.14).
    @Test(arguments: TestBackend.available)
    func groupsHoldVolumesAndAreSnapshottedAndCopiedTogether(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            #expect(try await c.call(.get, "/volume/v3/group_types", token: admin, headers: Self.at("3.10")).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/group_types/default", token: admin, headers: Self.at("3.11"))["group_type"]?["name"] == "default_group_type")
            let made = try await c.call(.post, "/volume/v3/group_types", token: admin,
                                        json: ["group_type": ["name": "gt", "group_specs": ["consistent_group_snapshot_enabled": "<is> True"]]], headers: Self.at("3.11"))
            #expect(made.status == .accepted && made["group_type"]?["group_specs"]?["consistent_group_snapshot_enabled"] == "<is> True")
            let groupType = try #require(made["group_type"]?["id"]?.stringValue)
            let sorted = try await c.call(.get, "/volume/v3/group_types?sort=name:desc&is_public=None", token: admin, headers: Self.at("3.11"))
            #expect(sorted["group_types"]?.array.map { $0["name"]?.stringValue ?? "" } == ["gt", "default_group_type"])
            #expect(try await c.call(.put, "/volume/v3/group_types/\(groupType)/group_specs/k", token: admin, json: ["k": "v"], headers: Self.at("3.11"))["k"] == "v")
            let volumeType = try #require(try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "vt"]])["volume_type"]?["id"]?.stringValue)

            let group = try #require(try await c.call(.post, "/volume/v3/groups", token: admin, json: ["group": [
                "name": "g1", "group_type": .string(groupType), "volume_types": [.string(volumeType)]]], headers: Self.at("3.13"))["group"]?["id"]?.stringValue)
            let member = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": [
                "size": 2, "volume_type": .string(volumeType), "group_id": .string(group)]], headers: Self.at("3.13"))
            #expect(member["volume"]?["group_id"]?.stringValue == group, "\(member.body?.text ?? "")")
            let memberID = try #require(member["volume"]?["id"]?.stringValue)
            try await c.waitForVolume(memberID, "available", token: admin)
            let wrongType = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["size": 1, "group_id": .string(group)]],
                                             headers: Self.at("3.13"))
            #expect(wrongType.status == .badRequest, "a volume of a type the group does not take")
            let loose = try await c.makeVolume(admin, extra: ["volume_type": .string(volumeType)])
            #expect(try await c.call(.put, "/volume/v3/groups/\(group)", token: admin, json: ["group": ["add_volumes": .string(loose), "name": "g1b"]],
                                     headers: Self.at("3.13")).status == .accepted)
            let shown = try await c.call(.get, "/volume/v3/groups/\(group)", token: admin, headers: Self.at("3.14"))["group"]
            #expect(shown?["name"] == "g1b" && shown?["group_type"]?.stringValue == groupType && shown?["source_group_id"] == .null)
            // 3.25: its volumes, when asked.
            let listing = try await c.call(.get, "/volume/v3/groups/\(group)?list_volume=true", token: admin, headers: Self.at("3.25"))["group"]
            #expect(Set(listing?["volumes"]?.array.compactMap(\.stringValue) ?? []) == [memberID, loose])
            #expect(try await c.call(.get, "/volume/v3/groups/detail?list_volume=true", token: admin, headers: Self.at("3.25"))["groups"]?.array.first?["volumes"] != nil)
            #expect(try await c.call(.get, "/volume/v3/groups/\(group)?list_volume=true", token: admin, headers: Self.at("3.24"))["group"]?["volumes"] == nil)
            // 3.20: an admin resets a group's status.
            for status in ["error", "available"] {
                #expect(try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["reset_status": ["status": .string(status)]],
                                         headers: Self.at("3.20")).status == .accepted)
                #expect(try await c.call(.get, "/volume/v3/groups/\(group)", token: admin, headers: Self.at("3.20"))["group"]?["status"]?.stringValue == status)
            }
            #expect(try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["reset_status": ["status": "error"]],
                                     headers: Self.at("3.19")).status == .badRequest)
            let summary = try await c.call(.get, "/volume/v3/volumes/summary", token: admin, headers: Self.at("3.12"))["volume-summary"]
            #expect(summary?["total_count"] == 2 && summary?["total_size"] == 3)

            // A group snapshot of both volumes, then a group made from it and one copied from the first.
            let groupSnapshot = try await c.call(.post, "/volume/v3/group_snapshots", token: admin, json: ["group_snapshot": ["group_id": .string(group), "name": "gs"]],
                                                 headers: Self.at("3.14"))
            #expect(groupSnapshot["group_snapshot"]?["group_type_id"]?.stringValue == groupType, "\(groupSnapshot.body?.text ?? "")")
            let groupSnapshotID = try #require(groupSnapshot["group_snapshot"]?["id"]?.stringValue)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/group_snapshots/\(groupSnapshotID)", token: admin, headers: Self.at("3.14"))["group_snapshot"]?["status"] == "available")
            let members = try await c.call(.get, "/volume/v3/snapshots/detail", token: admin, headers: Self.at("3.14"))["snapshots"]?.array ?? []
            #expect(members.count == 2 && members.allSatisfy { $0["group_snapshot_id"]?.stringValue == groupSnapshotID })
            // 3.19: an admin's reset status stands over the members'.
            #expect(try await c.call(.post, "/volume/v3/group_snapshots/\(groupSnapshotID)/action", token: admin, json: ["reset_status": ["status": "error"]],
                                     headers: Self.at("3.19")).status == .accepted)
            #expect(try await c.call(.get, "/volume/v3/group_snapshots/\(groupSnapshotID)", token: admin, headers: Self.at("3.19"))["group_snapshot"]?["status"] == "error")
            #expect(try await c.call(.post, "/volume/v3/group_snapshots/\(groupSnapshotID)/action", token: admin, json: ["reset_status": ["status": "available"]],
                                     headers: Self.at("3.19")).status == .accepted)
            for source in [["group_snapshot_id": JSON.string(groupSnapshotID)], ["source_group_id": .string(group)]] {
                var body = source
                body["name"] = "copy"
                let copy = try #require(try await c.call(.post, "/volume/v3/groups/action", token: admin, json: ["create-from-src": .object(body)],
                                                         headers: Self.at("3.14"))["group"]?["id"]?.stringValue)
                await cloud.blockStorage.settle()
                let volumes = try await c.call(.get, "/volume/v3/volumes/detail", token: admin, headers: Self.at("3.13"))["volumes"]?.array ?? []
                #expect(volumes.filter { $0["group_id"]?.stringValue == copy && $0["status"] == "available" }.count == 2)
                #expect(try await c.call(.post, "/volume/v3/groups/\(copy)/action", token: admin, json: ["delete": ["delete-volumes": true]],
                                         headers: Self.at("3.14")).status == .accepted)
            }

            // A group with snapshots or volumes is not deleted without saying so; then it goes, volumes too.
            #expect(try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["delete": ["delete-volumes": true]],
                                     headers: Self.at("3.14")).status == .badRequest)
            #expect(try await c.call(.delete, "/volume/v3/group_snapshots/\(groupSnapshotID)", token: admin, headers: Self.at("3.14")).status == .accepted)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["delete": [:]],
                                     headers: Self.at("3.14")).status == .badRequest)
            #expect(try await c.call(.delete, "/volume/v3/group_types/\(groupType)", token: admin, headers: Self.at("3.11")).status == .badRequest)
            #expect(try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["delete": ["delete-volumes": true]],
                                     headers: Self.at("3.14")).status == .accepted)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/volumes", token: admin)["volumes"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/groups", token: admin, headers: Self.at("3.13"))["groups"]?.array.isEmpty == true)
            #expect(try await c.call(.delete, "/volume/v3/group_types/\(groupType)", token: admin, headers: Self.at("3.11")).status == .accepted)

            // Another project sees none of it, and members manage no group types.
            let other = try await c.makeMember(admin: admin, name: "other")
            let otherToken = try await c.token("other", "pw", project: other.projectName)
            #expect(try await c.call(.post, "/volume/v3/group_types", token: otherToken, json: ["group_type": ["name": "mine"]],
                                     headers: Self.at("3.11")).status == .forbidden)
        }
    }
}
