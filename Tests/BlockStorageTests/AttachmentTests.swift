@testable import BlockStorage
import Foundation
import MartletCore
import MartletTestSupport
import ServiceContracts
import Testing

/// The attachments API (3.27): reserve, connect to a host's connector, release; other projects see
/// none of it, and what Compute attached only Compute detaches.
@Suite struct AttachmentTests {
    static let v327 = ["OpenStack-API-Version": "volume 3.27"]

    @Test(arguments: TestBackend.available)
    func aVolumeIsReservedConnectedAndReleased(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            let server = UUID().uuidString.lowercased(), other = UUID().uuidString.lowercased()
            func create(_ body: JSON, headers: [String: String] = Self.v327) async throws -> Reply {
                try await c.call(.post, "/volume/v3/attachments", token: admin, json: ["attachment": body], headers: headers)
            }
            #expect(try await create(["volume_uuid": .string(volume)], headers: ["OpenStack-API-Version": "volume 3.26"]).status == .notFound)

            let made = try await create(["volume_uuid": .string(volume), "instance_uuid": .string(server)])
            #expect(made.status == .ok, "\(made.body?.text ?? "")")
            let attachment = try #require(made["attachment"])
            let id = try #require(attachment["id"]?.stringValue)
            #expect(attachment["status"] == "reserved" && attachment["instance"]?.stringValue == server && attachment["volume_id"]?.stringValue == volume)
            #expect(attachment["attach_mode"] == "null" && attachment["connection_info"] == [:] && attachment["attached_at"] == "")
            #expect(try await cloud.blockStorage.store.volume(volume)?.status == "reserved")
            // Not multiattach: a second server is refused, and the volume is as it was.
            let second = try await create(["volume_uuid": .string(volume), "instance_uuid": .string(other)])
            #expect(second.status == .badRequest && second.body?.text.contains("must be available or downloading to reserve") == true)
            #expect(try await cloud.blockStorage.store.volume(volume)?.attachments.count == 1)

            // The host's connector: the driver's connection, the attachment and volume `attaching`.
            let connected = try await c.call(.put, "/volume/v3/attachments/\(id)", token: admin,
                                             json: ["attachment": ["connector": ["host": "node-1", "mountpoint": "/dev/vdb"]]], headers: Self.v327)
            #expect(connected.status == .ok, "\(connected.body?.text ?? "")")
            let info = connected["attachment"]?["connection_info"]
            #expect(info?["driver_volume_type"]?.stringValue?.isEmpty == false && info?["attachment_id"]?.stringValue == id)
            #expect(info?["access_mode"] == "rw" && info?["volume_id"]?.stringValue == volume)
            #expect(connected["attachment"]?["status"] == "attaching" && connected["attachment"]?["attach_mode"] == "rw")
            #expect(try await cloud.blockStorage.store.volume(volume)?.status == "attaching")

            // Listed in summary and detail, filtered by volume and server.
            let listed = try await c.call(.get, "/volume/v3/attachments?volume_id=\(volume)", token: admin, headers: Self.v327)["attachments"]?.array ?? []
            #expect(listed.count == 1 && listed[0].objectValue?.keys.sorted() == ["id", "instance", "status", "volume_id"])
            let detailed = try await c.call(.get, "/volume/v3/attachments/detail", token: admin, headers: Self.v327)["attachments"]?.array ?? []
            #expect(detailed.first?["connection_info"]?["attachment_id"]?.stringValue == id)
            #expect(try await c.call(.get, "/volume/v3/attachments?instance_id=\(other)", token: admin, headers: Self.v327)["attachments"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/attachments/\(id)", token: admin, headers: Self.v327)["attachment"]?["status"] == "attaching")

            // Another project sees nothing and reaches nothing.
            let stranger = try await c.makeMember(admin: admin, name: "stranger")
            let strangerToken = try await c.token("stranger", "pw", project: stranger.projectName)
            #expect(try await c.call(.get, "/volume/v3/attachments", token: strangerToken, headers: Self.v327)["attachments"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/attachments/\(id)", token: strangerToken, headers: Self.v327).status == .notFound)
            #expect(try await c.call(.delete, "/volume/v3/attachments/\(id)", token: strangerToken, headers: Self.v327).status == .notFound)
            #expect(try await c.call(.post, "/volume/v3/attachments", token: strangerToken, json: ["attachment": ["volume_uuid": .string(volume)]],
                                     headers: Self.v327).status == .notFound)

            // Hostile bodies: nothing is made.
            for bad: JSON in [["volume_uuid": .string(volume), "mode": "ro"], ["volume_uuid": "not-a-uuid"], ["instance_uuid": .string(server)],
                              ["volume_uuid": .string(volume), "connector": "host"], ["volume_uuid": .string(volume), "mode": "rw"]] {
                #expect(try await create(bad).status == .badRequest, "\(bad)")
            }
            #expect(try await create(["volume_uuid": .string(UUID().uuidString)]).status == .notFound)
            for bad: JSON in [["attachment": [:]], ["attachment": ["connector": [:]]], ["attachment": ["connector": ["host": "h"], "x": 1]], "x"] {
                #expect(try await c.call(.put, "/volume/v3/attachments/\(id)", token: admin, json: bad, headers: Self.v327).status == .badRequest, "\(bad)")
            }
            #expect(try await cloud.blockStorage.store.volume(volume)?.attachments.count == 1)

            // Released: nothing left, the volume available again.
            let deleted = try await c.call(.delete, "/volume/v3/attachments/\(id)", token: admin, headers: Self.v327)
            #expect(deleted.status == .ok && deleted["attachments"] == [])
            let after = try await cloud.blockStorage.store.volume(volume)
            #expect(after?.status == "available" && after?.attachments.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/attachments/\(id)", token: admin, headers: Self.v327).status == .notFound)

            // A connector at create connects at once.
            let direct = try await create(["volume_uuid": .string(volume), "instance_uuid": .string(server), "connector": ["host": "node-2"]])
            #expect(direct["attachment"]?["status"] == "attaching" && direct["attachment"]?["connection_info"]?["attachment_id"] != nil)
        }
    }

    /// What Compute attached for its server cannot be undone through Block Storage (OSSA-2023-003).
    @Test func computesAttachmentsAreComputesToUndo() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            let owner = try #require(try await cloud.blockStorage.store.volume(volume)?.projectID)
            let server = ServerRef(deviceID: UUID().uuidString.lowercased(), projectID: owner)
            try await cloud.blockStorage.reserve(volumeID: volume, for: server)
            _ = try await cloud.blockStorage.attach(volumeID: volume, to: server, host: "node-1", device: "/dev/vdb")
            let listed = try await c.call(.get, "/volume/v3/attachments/detail", token: admin, headers: Self.v327)["attachments"]?.array ?? []
            let id = try #require(listed.first?["id"]?.stringValue)
            #expect(listed.first?["status"] == "attached" && listed.first?["instance"]?.stringValue == server.deviceID)
            #expect(try await c.call(.delete, "/volume/v3/attachments/\(id)", token: admin, headers: Self.v327).status == .conflict)
            #expect(try await c.call(.put, "/volume/v3/attachments/\(id)", token: admin, json: ["attachment": ["connector": ["host": "evil"]]],
                                     headers: Self.v327).status == .conflict)
            let kept = try await cloud.blockStorage.store.volume(volume)
            #expect(kept?.status == "in-use" && kept?.attachments.first?.hostName == "node-1")
        }
    }
}
