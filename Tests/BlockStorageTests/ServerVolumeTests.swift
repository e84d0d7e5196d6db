@testable import BlockStorage
@testable import Compute
import DriverKit
import Foundation
import Image
import MartletCore
import MartletTestSupport
import Testing

@Suite struct ServerVolumeTests {
    @Test(arguments: TestBackend.available)
    func aVolumeAttachesToOneServerDetachesAndOutlivesIt(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let first = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            let second = try #require(try await c.boot(admin, name: "vm2", image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let volume = try await c.makeVolume(admin)

            let attached = try await c.call(.post, "/compute/v2.1/servers/\(first)/os-volume_attachments", token: admin,
                                            json: ["volumeAttachment": ["volumeId": .string(volume)]])
            #expect(attached.status == .ok && attached["volumeAttachment"]?["device"] == "/dev/vdb", "\(attached.body?.text ?? "")")
            let shown = try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]
            #expect(shown?["status"] == "in-use" && shown?["attachments"]?.array.first?["server_id"]?.stringValue == first)
            #expect(shown?["attachments"]?.array.first?["device"] == "/dev/vdb")
            let hypervisor = try #require(cloud.compute.hypervisor as? FakeHypervisor)
            #expect(hypervisor.devices(first)?.volumes == [volume])
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.volume(volume)?.hosts.count == 1)
            let server = try await c.server(admin, first, version: "2.79")
            #expect(server?["os-extended-volumes:volumes_attached"]?.array.first?["id"]?.stringValue == volume)
            let list = try await c.call(.get, "/compute/v2.1/servers/\(first)/os-volume_attachments", token: admin)
            #expect(list["volumeAttachments"]?.array.map { $0["volumeId"]?.stringValue ?? "" } == [volume])

            // In use: not deletable, not attachable elsewhere, and the refused attach leaves the second server as it was.
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(volume)", token: admin).status == .badRequest)
            let twice = try await c.call(.post, "/compute/v2.1/servers/\(second)/os-volume_attachments", token: admin,
                                         json: ["volumeAttachment": ["volumeId": .string(volume)]])
            #expect(twice.status == .badRequest, "\(twice.body?.text ?? "")")
            #expect(hypervisor.devices(second)?.volumes.isEmpty == true)
            #expect(try await c.server(admin, second)?["os-extended-volumes:volumes_attached"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]?["attachments"]?.array.count == 1)
            let unknown = try await c.call(.post, "/compute/v2.1/servers/\(second)/os-volume_attachments", token: admin,
                                           json: ["volumeAttachment": ["volumeId": .string(Identifier.uuid())]])
            #expect(unknown.status == .notFound)

            // Compute's attachment is Compute's to end: Cinder's detach actions refuse it, even for an admin.
            let attachment = try #require(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]?["attachments"]?.array.first?["attachment_id"])
            for action: JSON in [["os-detach": ["attachment_id": attachment]], ["os-force_detach": ["attachment_id": attachment]]] {
                let refused = try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: admin, json: action)
                #expect(refused.status == .conflict && refused["conflictingRequest"] != nil, "\(action): \(refused.status)")
            }
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]?["status"] == "in-use")
            // Named on another volume's detach, it is a mismatch (400), not that volume's own attachment.
            let bystander = try await c.makeVolume(admin)
            let mismatched = try await c.call(.post, "/volume/v3/volumes/\(bystander)/action", token: admin, json: ["os-detach": ["attachment_id": attachment]])
            #expect(mismatched.status == .badRequest, "\(mismatched.body?.text ?? "")")
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]?["attachments"]?.array.count == 1)

            // Detach, attach to the second server, then delete that server: the volume is free again.
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(first)/os-volume_attachments/\(volume)", token: admin).status == .accepted)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]?["status"] == "available")
            #expect(hypervisor.devices(first)?.volumes.isEmpty == true)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.volume(volume)?.hosts.isEmpty == true)
            #expect(try await c.call(.post, "/compute/v2.1/servers/\(second)/os-volume_attachments", token: admin,
                                     json: ["volumeAttachment": ["volumeId": .string(volume)]]).status == .ok)
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(second)", token: admin).status == .noContent)
            await cloud.compute.settle()
            let freed = try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]
            #expect(freed?["status"] == "available" && freed?["attachments"]?.array.isEmpty == true)
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(volume)", token: admin).status == .accepted)
        }
    }

    @Test func anotherProjectsVolumeCannotBeAttached() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let other = try await c.makeMember(admin: admin, name: "other")
            let otherToken = try await c.token("other", "pw", project: other.projectName)
            let theirs = try await c.makeVolume(otherToken)
            let (network, image) = try await c.bootPrerequisites(admin)
            let server = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let reply = try await c.call(.post, "/compute/v2.1/servers/\(server)/os-volume_attachments", token: admin,
                                         json: ["volumeAttachment": ["volumeId": .string(theirs)]])
            #expect(reply.status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(theirs)", token: otherToken)["volume"]?["status"] == "available")
        }
    }

    @Test(arguments: TestBackend.available)
    func anAttachmentUpdatesItsDeleteFlagAndASwapIsRefused(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let server = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let volume = try await c.makeVolume(admin), spare = try await c.makeVolume(admin)
            #expect(try await c.call(.post, "/compute/v2.1/servers/\(server)/os-volume_attachments", token: admin,
                                     json: ["volumeAttachment": ["volumeId": .string(volume)]]).status == .ok)
            let path = "/compute/v2.1/servers/\(server)/os-volume_attachments/\(volume)"
            func put(_ token: String, _ fields: JSON, version: String = "2.85") async throws -> Reply {
                try await c.call(.put, path, token: token, json: ["volumeAttachment": fields], headers: ["OpenStack-API-Version": "compute \(version)"])
            }

            // 2.85: the delete flag changes; the rest must be what it is.
            #expect(try await put(admin, ["volumeId": .string(volume), "delete_on_termination": true, "device": "/dev/vdb"]).status == .accepted)
            let shown = try await c.call(.get, path, token: admin, headers: ["OpenStack-API-Version": "compute 2.85"])["volumeAttachment"]
            #expect(shown?["delete_on_termination"] == true)
            for (fields, why) in [(["volumeId": .string(volume), "device": "/dev/vdc"], "device"), (["volumeId": .string(volume), "serverId": .string(Identifier.uuid())], "serverId"),
                                  (["volumeId": .string(volume), "tag": "t"], "tag"), (["volumeId": .string(volume), "bus": "virtio"], "unknown key"),
                                  (["volumeId": .string(volume), "delete_on_termination": "yes"], "not a boolean"), (["volumeId": "nope"], "not a UUID")] as [(JSON, String)] {
                let refused = try await put(admin, fields)
                #expect(refused.status == .badRequest && refused["badRequest"] != nil, "\(why): \(refused.status)")
            }
            #expect(try await put(admin, ["volumeId": .string(spare)], version: "2.84").status == .forbidden)
            let unattached = try await c.call(.put, "/compute/v2.1/servers/\(server)/os-volume_attachments/\(spare)", token: admin,
                                              json: ["volumeAttachment": ["volumeId": .string(spare)]], headers: ["OpenStack-API-Version": "compute 2.85"])
            #expect(unattached.status == .notFound)

            // A swap is Block Storage's, for a volume it migrates: even its service user gets a 409 here, and nothing moves.
            let roles = try await c.call(.get, "/identity/v3/roles?name=service", token: admin)["roles"]?.array.first?["id"]?.stringValue
            let adminUser = try #require(try await c.call(.get, "/identity/v3/users?name=admin", token: admin)["users"]?.array.first?["id"]?.stringValue)
            let adminProject = try #require(try await c.call(.get, "/identity/v3/projects?name=admin", token: admin)["projects"]?.array.first?["id"]?.stringValue)
            #expect(try await c.call(.put, "/identity/v3/projects/\(adminProject)/users/\(adminUser)/roles/\(try #require(roles))", token: admin).status == .noContent)
            let service = try await c.token()
            for version in ["2.84", "2.85"] {
                let swap = try await put(service, ["volumeId": .string(spare)], version: version)
                #expect(swap.status == .conflict && swap["conflictingRequest"] != nil, "\(version): \(swap.status)")
            }
            #expect(try await put(service, ["volumeId": .string(volume)], version: "2.84").status == .conflict)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]?["status"] == "in-use")
            #expect(try await c.call(.get, "/volume/v3/volumes/\(spare)", token: admin)["volume"]?["status"] == "available")
            #expect((cloud.compute.hypervisor as? FakeHypervisor)?.devices(server)?.volumes == [volume])

            // Another project's member sees no such server.
            let other = try await c.makeMember(admin: admin, name: "other")
            let otherToken = try await c.token("other", "pw", project: other.projectName)
            #expect(try await put(otherToken, ["volumeId": .string(volume), "delete_on_termination": false]).status == .notFound)
        }
    }

    @Test func aRestartEndsWhatACrashCutOff() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let halfMade = try await c.makeVolume(admin)
            let halfDeleted = try await c.makeVolume(admin)
            let halfExtended = try await c.makeVolume(admin)
            // The statuses a kill -9 leaves behind, as the database holds them.
            for (id, status) in [(halfMade, "creating"), (halfDeleted, "deleting"), (halfExtended, "extending")] {
                #expect(try await c.call(.post, "/volume/v3/volumes/\(id)/action", token: admin,
                                         json: ["os-reset_status": ["status": .string(status)]]).status == .accepted)
            }
            let restarted = BlockStorageService(database: cloud.database.database, config: cloud.config, driver: cloud.blockStorage.driver,
                                                images: cloud.services.first { $0 is ImageService } as! ImageService, objects: cloud.objectStorage,
                                                projects: cloud.identity)
            try await restarted.start()
            await restarted.settle()
            #expect(try await restarted.store.volume(halfMade)?.status == "error")
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.volume(halfMade) == nil, "a half-made volume's bytes go")
            #expect(try await restarted.store.volume(halfDeleted) == nil)
            #expect(try await restarted.store.volume(halfExtended)?.status == "error_extending")
        }
    }
}

@Suite struct BootFromVolumeTests {
    @Test(arguments: TestBackend.available)
    func aServerBootsFromAVolumeMadeFromAnImageAndTakesItAlongWhenAsked(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let kept = try await c.makeVolume(admin, size: 2)
            let reply = try await c.boot(admin, image: "", network: network, extra: ["block_device_mapping_v2": [
                ["boot_index": 0, "uuid": .string(image), "source_type": "image", "destination_type": "volume", "volume_size": 1,
                 "delete_on_termination": true],
                ["boot_index": 1, "uuid": .string(kept), "source_type": "volume", "destination_type": "volume"],
            ]])
            #expect(reply.status == .accepted, "\(reply.body?.text ?? "")")
            let id = try #require(reply["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let server = try #require(try await c.server(admin, id, version: "2.79"))
            #expect(server["status"] == "ACTIVE" && server["image"] == "", "\(server.text)")
            let attached = server["os-extended-volumes:volumes_attached"]?.array ?? []
            #expect(attached.count == 2 && attached.contains { $0["id"]?.stringValue == kept && $0["delete_on_termination"] == false })
            let boot = try #require(attached.first { $0["id"]?.stringValue != kept }?["id"]?.stringValue)
            let bootVolume = try await c.call(.get, "/volume/v3/volumes/\(boot)", token: admin)["volume"]
            #expect(bootVolume?["status"] == "in-use" && bootVolume?["bootable"] == "true" && bootVolume?["attachments"]?.array.first?["device"] == "/dev/vda")
            #expect(bootVolume?["volume_image_metadata"]?["image_id"]?.stringValue == image)
            let hypervisor = try #require(cloud.compute.hypervisor as? FakeHypervisor)
            #expect(Set(hypervisor.devices(id)?.volumes ?? []) == [boot, kept])

            // A snapshot of the kept volume holds nothing back; deleting the server takes the boot volume
            // (delete_on_termination) and frees the other.
            let snap = try #require(try await c.call(.post, "/volume/v3/snapshots", token: admin,
                                                     json: ["snapshot": ["volume_id": .string(kept), "force": true]])["snapshot"]?["id"]?.stringValue)
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(id)", token: admin).status == .noContent)
            await cloud.compute.settle()
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/volumes/\(boot)", token: admin).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(kept)", token: admin)["volume"]?["status"] == "available")
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snap)", token: admin)["snapshot"]?["status"] == "available")
            #expect(try await c.call(.get, "/network/v2.0/ports?device_owner=compute:nova", token: admin)["ports"]?.array.isEmpty == true,
                    "the server's port goes with it")
        }
    }

    @Test func aVolumeBackedServerShelvesWithItsVolumeAndRefusesBackupsAndRebuildsBefore293() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, _) = try await c.bootPrerequisites(admin)
            let boot = try await c.makeVolume(admin)
            let id = try #require(try await c.boot(admin, image: "", network: network, extra: ["block_device_mapping_v2": [
                ["boot_index": 0, "uuid": .string(boot), "source_type": "volume", "destination_type": "volume"]]])["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let backup = try await c.action(admin, id, ["createBackup": ["name": "b", "backup_type": "daily", "rotation": 1]])
            #expect(backup.status == .badRequest && backup["badRequest"]?["message"]?.stringValue?.contains("volume-backed") == true)
            // The boot volume stays: detaching it, or rebuilding over it before 2.93, is refused.
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(id)/os-volume_attachments/\(boot)", token: admin).status == .badRequest)
            let (_, image) = try await c.bootPrerequisites(admin, cidr: "10.21.0.0/24")
            let refused = try await c.action(admin, id, ["rebuild": ["imageRef": .string(image)]])
            #expect(refused["badRequest"]?["message"] == "Unable to rebuild with a different image for a volume-backed server.")

            // From 2.93 the new image goes over the boot volume (Block Storage's re-image), which
            // keeps its ID and attachment; the server still names no image.
            let rebuilt = try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin,
                                           json: ["rebuild": ["imageRef": .string(image), "name": "rebuilt"]], headers: ["OpenStack-API-Version": "compute 2.93"])
            #expect(rebuilt.status == .accepted && rebuilt["server"]?["image"] == "", "\(rebuilt.body?.text ?? "")")
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["status"] == "ACTIVE")
            let volume = try await c.call(.get, "/volume/v3/volumes/\(boot)", token: admin)["volume"]
            #expect(volume?["status"] == "in-use" && volume?["volume_image_metadata"]?["image_id"]?.stringValue == image)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.origin(boot) == "image \(image)")
            // The same image again re-spawns the guest on its volume, at any version.
            #expect(try await c.action(admin, id, ["rebuild": ["imageRef": .string(image)]]).status == .accepted)
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["status"] == "ACTIVE")
            #expect(try await c.action(admin, id, ["shelve": .null]).status == .accepted)
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["status"] == "SHELVED_OFFLOADED")
            #expect(try await c.call(.get, "/image/v2/images?name=vm-shelved", token: admin)["images"]?.array.isEmpty == true, "no image of a volume-backed server")
            #expect(try await c.call(.get, "/volume/v3/volumes/\(boot)", token: admin)["volume"]?["status"] == "in-use")
            #expect(try await c.action(admin, id, ["unshelve": .null]).status == .accepted)
            await cloud.compute.settle()
            #expect(try await c.server(admin, id)?["status"] == "ACTIVE")
            let hypervisor = try #require(cloud.compute.hypervisor as? FakeHypervisor)
            #expect(hypervisor.devices(id)?.volumes == [boot])
        }
    }

    /// Nova's image of a volume-backed server: volume snapshots named by the image's
    /// `block_device_mapping`, from which a server booted on the image gets its volumes.
    @Test(arguments: TestBackend.available)
    func anImageOfAVolumeBackedServerBootsAServerOnVolumesOfItsSnapshots(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let first = try #require(try await c.boot(admin, image: "", network: network, extra: ["block_device_mapping_v2": [
                ["boot_index": 0, "uuid": .string(image), "source_type": "image", "destination_type": "volume", "volume_size": 1,
                 "delete_on_termination": true]]])["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let made = try await c.call(.post, "/compute/v2.1/servers/\(first)/action", token: admin, json: ["createImage": ["name": "golden", "metadata": ["k": "v"]]],
                                        headers: ["OpenStack-API-Version": "compute 2.45"])
            #expect(made.status == .accepted, "\(made.body?.text ?? "")")
            let imageID = try #require(made["image_id"]?.stringValue)
            let shown = try await c.call(.get, "/image/v2/images/\(imageID)", token: admin)
            #expect(shown["status"] == "active" && shown["size"] == 0 && shown["bdm_v2"] == "True" && shown["k"] == "v")
            let mapping = try JSON.parse(Array(try #require(shown["block_device_mapping"]?.stringValue).utf8))
            let entry = try #require(mapping.array.first)
            #expect(entry["source_type"] == "snapshot" && entry["boot_index"] == 0 && entry["volume_size"] == 1 && entry["delete_on_termination"] == true)
            let snapshot = try #require(entry["snapshot_id"]?.stringValue)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snapshot)", token: admin)["snapshot"]?["status"] == "available")

            // A server on the image boots from a new volume made from the snapshot, and takes it along.
            let second = try #require(try await c.boot(admin, image: imageID, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let server = try #require(try await c.server(admin, second))
            #expect(server["status"] == "ACTIVE" && server["image"] == "", "\(server.text)")
            let volumeID = try #require(server["os-extended-volumes:volumes_attached"]?.array.first?["id"]?.stringValue)
            let volume = try await c.call(.get, "/volume/v3/volumes/\(volumeID)", token: admin)["volume"]
            #expect(volume?["snapshot_id"]?.stringValue == snapshot && volume?["attachments"]?.array.first?["server_id"]?.stringValue == second)
            #expect(volume?["volume_image_metadata"]?["image_id"]?.stringValue == image)
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(second)", token: admin).status == .noContent)
            await cloud.compute.settle()
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volumeID)", token: admin).status == .notFound)

            // An image whose mapping is not a list of mappings is refused and makes nothing.
            let bad = try #require(try await c.call(.post, "/image/v2/images", token: admin,
                                                    json: ["name": "bad", "disk_format": "raw", "container_format": "bare", "bdm_v2": "True",
                                                           "block_device_mapping": "[{\"source_type\": \"snapshot\", \"destination_type\": \"volume\", \"snapshot_id\": \"../x\"}]"])["id"]?.stringValue)
            #expect(try await c.call(.put, "/image/v2/images/\(bad)/file", token: admin, raw: Array("x".utf8),
                                     headers: ["Content-Type": "application/octet-stream"]).status == .noContent)
            let refused = try await c.boot(admin, image: bad, network: network)
            #expect(refused.status == .badRequest && refused["badRequest"]?["message"]?.stringValue?.contains("Block Device Mapping") == true,
                    "\(refused.body?.text ?? "")")

            // A rebuild on the image (2.93) writes the snapshot over the boot volume, not the image's no bytes.
            let rebuilt = try await c.call(.post, "/compute/v2.1/servers/\(first)/action", token: admin,
                                           json: ["rebuild": ["imageRef": .string(imageID)]], headers: ["OpenStack-API-Version": "compute 2.93"])
            #expect(rebuilt.status == .accepted, "\(rebuilt.body?.text ?? "")")
            await cloud.compute.settle()
            #expect(try await c.server(admin, first)?["status"] == "ACTIVE")
            let root = try #require(try await c.server(admin, first, version: "2.79")?["os-extended-volumes:volumes_attached"]?.array.first?["id"]?.stringValue)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.origin(root) == "snapshot \(snapshot)")
        }
    }

    @Test func badMappingsAreRefusedAndMakeNothing() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            for mapping: JSON in [
                ["boot_index": 0, "uuid": .string(Identifier.uuid()), "source_type": "volume", "destination_type": "volume"],
                ["boot_index": 0, "uuid": .string(image), "source_type": "image", "destination_type": "volume"],
                ["boot_index": 0, "uuid": "not-a-uuid", "source_type": "volume", "destination_type": "volume"],
                ["boot_index": 0, "source_type": "floppy", "destination_type": "volume"],
            ] {
                let reply = try await c.boot(admin, image: "", network: network, extra: ["block_device_mapping_v2": [mapping]])
                #expect(reply.status == .badRequest, "\(mapping): \(reply.status) \(reply.body?.text ?? "")")
            }
            #expect(try await c.call(.get, "/compute/v2.1/servers", token: admin)["servers"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/volumes", token: admin)["volumes"]?.array.isEmpty == true)
        }
    }
}

@Suite struct ComputeVolumeProxyTests {
    @Test func novasOsVolumesShowBlockStorageUntil2_36() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let made = try await c.call(.post, "/compute/v2.1/os-volumes", token: admin, json: ["volume": ["size": 1, "display_name": "proxied"]])
            #expect(made.status == .ok && made["volume"]?["displayName"] == "proxied", "\(made.body?.text ?? "")")
            let id = try #require(made["volume"]?["id"]?.stringValue)
            await cloud.blockStorage.settle()
            let shown = try await c.call(.get, "/compute/v2.1/os-volumes/\(id)", token: admin)["volume"]
            #expect(shown?["status"] == "available" && shown?["size"] == 1 && shown?["attachments"] == [[:]])
            #expect(try await c.call(.get, "/volume/v3/volumes/\(id)", token: admin)["volume"]?["name"] == "proxied")
            #expect(try await c.call(.get, "/compute/v2.1/os-volumes/detail?limit=1", token: admin)["volumes"]?.array.count == 1)
            for body: JSON in [["volume": ["size": 0]], ["volume": ["size": "#$%"]], ["volume": [:]]] {
                #expect(try await c.call(.post, "/compute/v2.1/os-volumes", token: admin, json: body).status == .badRequest)
            }
            let later = try await c.call(.get, "/compute/v2.1/os-volumes", token: admin, headers: ["OpenStack-API-Version": "compute 2.36"])
            #expect(later.status == .notFound)
            #expect(try await c.call(.delete, "/compute/v2.1/os-volumes/\(id)", token: admin).status == .accepted)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/compute/v2.1/os-volumes/\(id)", token: admin).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func novasOsSnapshotsShowBlockStorageSnapshotsUntil2_36(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            let made = try await c.call(.post, "/compute/v2.1/os-snapshots", token: admin,
                                        json: ["snapshot": ["volume_id": .string(volume), "display_name": "snap", "display_description": "d", "force": "false"]])
            #expect(made.status == .ok && made["snapshot"]?["volumeId"]?.stringValue == volume && made["snapshot"]?["displayName"] == "snap", "\(made.body?.text ?? "")")
            let id = try #require(made["snapshot"]?["id"]?.stringValue)
            await cloud.blockStorage.settle()
            let shown = try await c.call(.get, "/compute/v2.1/os-snapshots/\(id)", token: admin)["snapshot"]
            #expect(shown?["status"] == "available" && shown?["size"] == 1 && shown?["displayDescription"] == "d")
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(id)", token: admin)["snapshot"]?["name"] == "snap")
            for path in ["/compute/v2.1/os-snapshots", "/compute/v2.1/os-snapshots/detail"] {
                #expect(try await c.call(.get, path, token: admin)["snapshots"]?.array.map { $0["id"]?.stringValue ?? "" } == [id])
            }
            #expect(try await c.call(.get, "/compute/v2.1/os-snapshots?limit=0", token: admin)["snapshots"]?.array.isEmpty == true)
            for body: JSON in [["snapshot": [:]], ["snapshot": ["volume_id": .string(volume), "force": "maybe"]], ["snapshot": ["volume_id": .string(volume), "size": 1]]] {
                let refused = try await c.call(.post, "/compute/v2.1/os-snapshots", token: admin, json: body)
                #expect(refused.status == .badRequest && refused["badRequest"] != nil, "\(body)")
            }
            #expect(try await c.call(.post, "/compute/v2.1/os-snapshots", token: admin, json: ["snapshot": ["volume_id": .string(Identifier.uuid())]]).status == .notFound)
            // Another project sees none of them and deletes nothing.
            let member = try await c.makeMember(admin: admin, name: "other")
            let other = try await c.token("other", "pw", project: member.projectName)
            #expect(try await c.call(.get, "/compute/v2.1/os-snapshots", token: other)["snapshots"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/compute/v2.1/os-snapshots/\(id)", token: other).status == .notFound)
            #expect(try await c.call(.delete, "/compute/v2.1/os-snapshots/\(id)", token: other).status == .notFound)
            #expect(try await c.call(.get, "/compute/v2.1/os-snapshots", token: admin, headers: ["OpenStack-API-Version": "compute 2.36"]).status == .notFound)
            #expect(try await c.call(.delete, "/compute/v2.1/os-snapshots/\(id)", token: admin).status == .accepted)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/compute/v2.1/os-snapshots/\(id)", token: admin).status == .notFound)
        }
    }
}
