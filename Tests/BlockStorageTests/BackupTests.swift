@testable import BlockStorage
import DriverKit
import Foundation
import HTTPTypes
import Image
import ObjectStorage
import MartletCore
import MartletTestSupport
import NIOCore
import Testing

/// Backups kept in the object store: made, listed, restored (new and existing volume), incremental,
/// exported and imported; tampered objects, other projects and a restart.
@Suite struct BackupTests {
    /// What the fake driver holds for a volume, as a raw read gives it.
    static func bytes(_ cloud: TestCloud, _ id: String) async throws -> [UInt8] {
        var out: [UInt8] = []
        for try await chunk in try await cloud.blockStorage.driver.read(id, format: "raw") { out += chunk.readableBytesView }
        return out
    }

    static func write(_ cloud: TestCloud, _ id: String, _ bytes: [UInt8]) async throws {
        try await cloud.blockStorage.driver.write(id, raw: BufferChunks(bytes: bytes))
    }

    @Test(arguments: TestBackend.available)
    func aBackupIsMadeRestoredAddedToAndDeleted(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let project = try #require(try await c.call(.get, "/identity/v3/auth/projects", token: admin)["projects"]?.array
                .first { $0["name"] == "admin" }?["id"]?.stringValue)
            let volume = try await c.makeVolume(admin, extra: ["metadata": ["k": "v"]])
            let first = Array("first bytes of the volume".utf8) + [UInt8](repeating: 0, count: 100)
            try await Self.write(cloud, volume, first)

            let created = try await c.call(.post, "/volume/v3/backups", token: admin,
                                           json: ["backup": ["volume_id": .string(volume), "name": "b1", "container": "mine"]])
            #expect(created.status == .accepted && created["backup"]?["name"] == "b1" && created["backup"]?["links"] != nil, "\(created.body?.text ?? "")")
            let full = try #require(created["backup"]?["id"]?.stringValue)
            let shown = try await c.waitForBackup(full, "available", token: admin)["backup"]
            #expect(shown?["container"] == "mine" && shown?["size"] == 1 && shown?["object_count"] == 1 && shown?["is_incremental"] == false)
            #expect(shown?["volume_id"]?.stringValue == volume && shown?["fail_reason"] == .null && shown?["data_timestamp"] != .null)
            try await c.waitForVolume(volume, "available", token: admin)
            // The bytes are an object in the project's own account.
            let listing = try await c.call(.get, "/object-store/v1/AUTH_\(project)/mine?format=json", token: admin)
            #expect(String(decoding: listing.bytes, as: UTF8.self).contains("az_nova_backup_\(full)-00001"), "\(listing.status)")

            // Restored into a new volume: the bytes, the metadata.
            let restore = try await c.call(.post, "/volume/v3/backups/\(full)/restore", token: admin, json: ["restore": ["name": "copy"]])
            #expect(restore.status == .accepted && restore["restore"]?["backup_id"]?.stringValue == full && restore["restore"]?["volume_name"] == "copy")
            let copy = try #require(restore["restore"]?["volume_id"]?.stringValue)
            let copied = try await c.waitForVolume(copy, "available", token: admin)["volume"]
            #expect(copied?["metadata"]?["k"] == "v" && copied?["size"] == 1)
            #expect(try await Self.bytes(cloud, copy) == first)
            try await c.waitForBackup(full, "available", token: admin)

            // An incremental backup stores only what changed and depends on the full one.
            let second = Array("second".utf8)
            try await Self.write(cloud, volume, second)
            let added = try await c.call(.post, "/volume/v3/backups", token: admin,
                                         json: ["backup": ["volume_id": .string(volume), "incremental": true, "container": "mine"]])
            let incremental = try #require(added["backup"]?["id"]?.stringValue)
            #expect(try await c.waitForBackup(incremental, "available", token: admin)["backup"]?["is_incremental"] == true)
            #expect(try await c.call(.get, "/volume/v3/backups/\(full)", token: admin)["backup"]?["has_dependent_backups"] == true)
            let parentDelete = try await c.call(.delete, "/volume/v3/backups/\(full)", token: admin)
            #expect(parentDelete.status == .badRequest && parentDelete["badRequest"]?["message"]?.stringValue?.contains("Incremental backups exist") == true)

            // Restored over the existing copy, which must be large enough and available.
            #expect(try await c.call(.post, "/volume/v3/backups/\(incremental)/restore", token: admin,
                                     json: ["restore": ["volume_id": .string(copy)]]).status == .accepted)
            try await c.waitForVolume(copy, "available", token: admin)
            #expect(try await Self.bytes(cloud, copy) == second)

            let detail = try await c.call(.get, "/volume/v3/backups/detail?sort=created_at:asc", token: admin)
            #expect(detail["backups"]?.array.map { $0["id"]?.stringValue ?? "" } == [full, incremental])
            let limits = try await c.call(.get, "/volume/v3/limits", token: admin)["limits"]?["absolute"]
            #expect(limits?["totalBackupsUsed"] == 2 && limits?["totalBackupGigabytesUsed"] == 2)

            // Deleting both leaves no object behind.
            for id in [incremental, full] {
                #expect(try await c.call(.delete, "/volume/v3/backups/\(id)", token: admin).status == .accepted)
                try await c.waitForBackup(id, "deleted", token: admin)
            }
            let empty = try await c.call(.get, "/object-store/v1/AUTH_\(project)/mine?format=json", token: admin)
            #expect(empty.body?.array.isEmpty == true, "\(String(decoding: empty.bytes, as: UTF8.self))")
        }
    }

    @Test func wrongStatesOtherProjectsTamperingAndImportsAreRefused() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let owner = try await c.makeMember(admin: admin, name: "owner")
            let other = try await c.makeMember(admin: admin, name: "other")
            let ownerToken = try await c.token("owner", "pw", project: owner.projectName)
            let otherToken = try await c.token("other", "pw", project: other.projectName)
            let volume = try await c.makeVolume(ownerToken)
            try await Self.write(cloud, volume, Array("owner's data".utf8))

            for (body, message) in [(["volume_id": .string(volume), "incremental": true] as JSON, "No backups available"),
                                    (["volume_id": .string(volume), "colour": "red"], "Additional properties"),
                                    (["volume_id": .string(volume), "container": "a/b"], "container"),
                                    (["name": "no volume"], "volume_id")] {
                let reply = try await c.call(.post, "/volume/v3/backups", token: ownerToken, json: ["backup": body])
                #expect(reply.status == .badRequest && reply["badRequest"]?["message"]?.stringValue?.contains(message) == true, "\(reply.body?.text ?? "")")
            }
            #expect(try await c.call(.post, "/volume/v3/backups", token: otherToken, json: ["backup": ["volume_id": .string(volume)]]).status == .notFound)
            let backup = try await c.makeBackup(ownerToken, volume: volume)

            // Another project sees nothing of it; the owner cannot export or import records.
            for (method, path, body) in [(HTTPRequest.Method.get, "/volume/v3/backups/\(backup)", nil), (.delete, "/volume/v3/backups/\(backup)", nil),
                                         (.post, "/volume/v3/backups/\(backup)/restore", ["restore": [:]] as JSON)] {
                #expect(try await c.call(method, path, token: otherToken, json: body).status == .notFound, "\(method) \(path)")
            }
            #expect(try await c.call(.get, "/volume/v3/backups", token: otherToken)["backups"]?.array.isEmpty == true)
            let foreign = try await c.makeVolume(otherToken)
            #expect(try await c.call(.post, "/volume/v3/backups/\(backup)/restore", token: ownerToken,
                                     json: ["restore": ["volume_id": .string(foreign)]]).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)", token: ownerToken)["backup"]?["status"] == "available")
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)/export_record", token: ownerToken).status == .forbidden)

            // Export, then import under a new ID: the same objects, restorable.
            let record = try #require(try await c.call(.get, "/volume/v3/backups/\(backup)/export_record", token: admin)["backup-record"])
            #expect(record["backup_service"]?.stringValue?.hasPrefix("cinder.backup.drivers") == true)
            let url = try #require(record["backup_url"]?.stringValue)
            var decoded = try JSON.parse(Array(Data(base64Encoded: url)!))
            let newID = Identifier.uuid()
            if case .object(var members) = decoded { members["id"] = .string(newID); decoded = .object(members) }
            let newURL = Data(decoded.serialized()).base64EncodedString()
            let imported = try await c.call(.post, "/volume/v3/backups/import_record", token: admin,
                                            json: ["backup-record": ["backup_service": record["backup_service"]!, "backup_url": .string(newURL)]])
            #expect(imported.status == .created && imported["backup"]?["id"]?.stringValue == newID, "\(imported.body?.text ?? "")")
            #expect(try await c.call(.post, "/volume/v3/backups/import_record", token: admin,
                                     json: ["backup-record": ["backup_service": record["backup_service"]!, "backup_url": .string(newURL)]]).status == .badRequest)
            for garbage in ["not base64!", Data("{\"id\": 1}".utf8).base64EncodedString()] {
                let reply = try await c.call(.post, "/volume/v3/backups/import_record", token: admin,
                                             json: ["backup-record": ["backup_service": record["backup_service"]!, "backup_url": .string(garbage)]])
                #expect(reply.status == .badRequest, "\(reply.body?.text ?? "")")
            }
            #expect(try await c.call(.post, "/volume/v3/backups/import_record", token: ownerToken,
                                     json: ["backup-record": ["backup_service": record["backup_service"]!, "backup_url": .string(newURL)]]).status == .forbidden)
            let fromImport = try await c.call(.post, "/volume/v3/backups/\(newID)/restore", token: admin, json: ["restore": [:]])
            let restoredID = try #require(fromImport["restore"]?["volume_id"]?.stringValue)
            try await c.waitForVolume(restoredID, "available", token: admin)
            #expect(try await Self.bytes(cloud, restoredID) == Array("owner's data".utf8))
            // Deleting the imported record keeps the objects the exported one still names.
            #expect(try await c.call(.delete, "/volume/v3/backups/\(newID)", token: admin).status == .accepted)
            try await c.waitForBackup(newID, "deleted", token: admin)

            // The owner rewrites the backup's object: a restore notices, and the volume says so.
            let prefix = try #require(try await cloud.blockStorage.store.backup(backup)?.objectPrefix)
            let put = try await c.call(.put, "/object-store/v1/AUTH_\(owner.project)/volumebackups/\(prefix)-00001", token: ownerToken,
                                       raw: Array("forged data!".utf8))
            #expect(put.status == .created)
            let target = try await c.makeVolume(ownerToken)
            #expect(try await c.call(.post, "/volume/v3/backups/\(backup)/restore", token: ownerToken,
                                     json: ["restore": ["volume_id": .string(target)]]).status == .accepted)
            try await c.waitForVolume(target, "error_restoring", token: ownerToken)
            try await c.waitForBackup(backup, "available", token: ownerToken)

            // A reader reads and writes nothing; a quota of one backup is one backup.
            let reader = try await c.makeMember(admin: admin, name: "reader", role: "reader")
            let readerRole = try #require(try await c.call(.get, "/identity/v3/roles?name=reader", token: admin)["roles"]?.array.first?["id"]?.stringValue)
            #expect(try await c.call(.put, "/identity/v3/projects/\(owner.project)/users/\(reader.user)/roles/\(readerRole)", token: admin).status == .noContent)
            let readerToken = try await c.token("reader", "pw", project: owner.projectName)
            #expect(try await c.call(.get, "/volume/v3/backups", token: readerToken)["backups"]?.array.count == 1)
            #expect(try await c.call(.post, "/volume/v3/backups", token: readerToken, json: ["backup": ["volume_id": .string(volume)]]).status == .forbidden)
            #expect(try await c.call(.delete, "/volume/v3/backups/\(backup)", token: readerToken).status == .forbidden)
            #expect(try await c.call(.put, "/volume/v3/os-quota-sets/\(owner.project)", token: admin,
                                     json: ["quota_set": ["backups": 1]]).status == .ok)
            let over = try await c.call(.post, "/volume/v3/backups", token: ownerToken, json: ["backup": ["volume_id": .string(volume)]])
            #expect(over.status == .contentTooLarge && over["overLimit"] != nil, "\(over.body?.text ?? "")")
            #expect(try await cloud.blockStorage.store.volume(volume)?.status == "available", "a refused backup leaves the volume as it was")
        }
    }

    @Test func aRestartEndsBackupsACrashCutOff() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            try await Self.write(cloud, volume, Array("data".utf8))
            let made = try await c.makeBackup(admin, volume: volume)
            let restoring = try await c.makeBackup(admin, volume: volume)
            let store = cloud.blockStorage.store
            // What a kill -9 in the middle leaves in the database.
            try await store.editBackup(made) { $0.status = "creating" }
            try await store.editBackup(restoring) { $0.status = "restoring" }
            try await store.editVolume(volume) { $0.status = "backing-up" }
            let restarted = BlockStorageService(database: cloud.database.database, config: cloud.config, driver: cloud.blockStorage.driver,
                                                images: cloud.services.first { $0 is ImageService } as! ImageService, objects: cloud.objectStorage,
                                                projects: cloud.identity)
            try await restarted.start()
            await restarted.settle()
            let cut = try await store.backup(made)
            #expect(cut?.status == "error" && cut?.failReason?.contains("restart") == true)
            #expect(try await cloud.objectStorage.objectBytes(projectID: cut!.objectProjectID, container: cut!.container,
                                                                name: BackupEngine.objectName(cut!, index: 0), size: 4) == nil, "a cut-off backup's objects go")
            #expect(try await store.backup(restoring)?.status == "available")
            #expect(try await store.volume(volume)?.status == "available")
        }
    }

    /// The file driver and real qemu-img: a volume's bytes through a full and an incremental backup, byte for byte.
    @Test func fileVolumesRoundTripByteForByte() async throws {
        let cloud = try await volumeCloud(driver: fileVolumeDriver)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            // 20 MiB of pattern at 100 MiB: three chunks of data in a sea of zeros.
            var pattern = [UInt8](repeating: 0, count: 120 << 20)
            for i in (100 << 20)..<(pattern.count) { pattern[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
            try await Self.write(cloud, volume, pattern)
            let full = try await c.makeBackup(admin, volume: volume)
            #expect(try await c.call(.get, "/volume/v3/backups/\(full)", token: admin)["backup"]?["object_count"] == 3)
            for i in (110 << 20)..<(110 << 20) + 10 { pattern[i] = 0xAB }
            try await Self.write(cloud, volume, pattern)
            let incremental = try await c.makeBackup(admin, volume: volume, incremental: true)
            #expect(try await c.call(.get, "/volume/v3/backups/\(incremental)", token: admin)["backup"]?["object_count"] == 1)
            let restored = try #require(try await c.call(.post, "/volume/v3/backups/\(incremental)/restore", token: admin,
                                                         json: ["restore": [:]])["restore"]?["volume_id"]?.stringValue)
            try await c.waitForVolume(restored, "available", token: admin, seconds: 60)
            // The head compared byte for byte, the rest checked for zeros a buffer at a time.
            var head = ByteBuffer(), total = 0, zeroTail = true
            for try await var chunk in try await cloud.blockStorage.driver.read(restored, format: "raw") {
                total += chunk.readableBytes
                if head.readableBytes < pattern.count {
                    var part = chunk.readSlice(length: min(pattern.count - head.readableBytes, chunk.readableBytes))!
                    head.writeBuffer(&part)
                }
                zeroTail = zeroTail && BackupEngine.isZero(chunk)
            }
            #expect(total == 1 << 30 && Array(head.readableBytesView) == pattern && zeroTail)
        }
    }
}

extension Client {
    @discardableResult
    func waitForBackup(_ id: String, _ status: String, token: String, seconds: Double = 30) async throws -> Reply {
        try await waitFor("backups", id, status, token: token, seconds: seconds)
    }

    func makeBackup(_ token: String, volume: String, incremental: Bool = false) async throws -> String {
        let reply = try await call(.post, "/volume/v3/backups", token: token,
                                   json: ["backup": ["volume_id": .string(volume), "incremental": .bool(incremental)]])
        guard reply.status == .accepted, let id = reply["backup"]?["id"]?.stringValue else { throw TestFailure("backup: \(reply.status) \(reply.body?.text ?? "")") }
        try await waitForBackup(id, "available", token: token, seconds: 60)
        return id
    }
}
