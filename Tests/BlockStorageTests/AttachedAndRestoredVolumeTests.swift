@testable import BlockStorage
@testable import Compute
import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// What 3.42 to 3.50 add: volumes extended while attached, volumes from backups and from Compute's
/// images of volume-backed servers, attachment completion, counts and the newer view fields.
@Suite struct AttachedAndRestoredVolumeTests {
    static func at(_ version: String) -> [String: String] { VolumeMicroversionTests.at(version) }

    @Test func anAttachedVolumeGrowsInItsServer() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let server = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let volume = try await c.makeVolume(admin)
            #expect(try await c.call(.post, "/compute/v2.1/servers/\(server)/os-volume_attachments", token: admin,
                                     json: ["volumeAttachment": ["volumeId": .string(volume)]]).status == .ok)
            func extend(_ size: Int, _ version: String) async throws -> Reply {
                try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: admin, json: ["os-extend": ["new_size": JSON(size)]], headers: Self.at(version))
            }
            // Before 3.42 an attached volume does not grow.
            let early = try await extend(2, "3.41")
            #expect(early.status == .badRequest && early["badRequest"]?["message"]?.stringValue?.contains("'available'") == true)

            #expect(try await extend(2, "3.42").status == .accepted)
            try await c.waitForVolume(volume, "in-use", token: admin)
            await cloud.blockStorage.work.settle()
            let shown = try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]
            #expect(shown?["size"] == 2 && shown?["status"] == "in-use")
            let hypervisor = try #require(cloud.compute.hypervisor as? FakeHypervisor)
            #expect(hypervisor.volumeSize(server, volumeID: volume) == 2 << 30)
            // The server's action log says so, as Nova's does for the volume-extended event.
            let actions = try await c.call(.get, "/compute/v2.1/servers/\(server)/os-instance-actions", token: admin)["instanceActions"]?.array ?? []
            let action = try #require(actions.first { $0["action"] == "extend_volume" })
            let requestID = try #require(action["request_id"]?.stringValue)
            let detail = try await c.call(.get, "/compute/v2.1/servers/\(server)/os-instance-actions/\(requestID)", token: admin, headers: ["X-OpenStack-Nova-API-Version": "2.51"])
            let event = detail["instanceAction"]?["events"]?.array.first
            #expect(event?["event"] == "compute_extend_volume" && event?["result"] == "Success" && event?["finish_time"] != .null, "\(detail.body?.text ?? "")")

            // An attachment made through the attachments API names no server of Compute's: nothing is told.
            let other = try await c.makeVolume(admin)
            let reserved = try await c.call(.post, "/volume/v3/attachments", token: admin, json: ["attachment": [
                "volume_uuid": .string(other), "instance_uuid": .string(server), "connector": ["host": "node-1"]]], headers: Self.at("3.27"))
            let reservedID = try #require(reserved["attachment"]?["id"]?.stringValue, "\(reserved.body?.text ?? "")")
            #expect(try await c.call(.post, "/volume/v3/attachments/\(reservedID)/action", token: admin, json: ["os-complete": .null],
                                     headers: Self.at("3.44")).status == .noContent)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(other)/action", token: admin, json: ["os-extend": ["new_size": 3]],
                                     headers: Self.at("3.42")).status == .accepted)
            let grown = try await c.waitForVolume(other, "in-use", token: admin)["volume"]
            #expect(grown?["size"] == 3)
            let after = try await c.call(.get, "/compute/v2.1/servers/\(server)/os-instance-actions", token: admin)["instanceActions"]?.array ?? []
            #expect(after.filter { $0["action"] == "extend_volume" }.count == 1, "only the extend of the volume Compute attached is the server's")

            // A member of another project cannot; nor may it shrink or stay the same.
            #expect(try await extend(2, "3.42").status == .badRequest)
            let stranger = try await c.makeMember(admin: admin, name: "grower")
            let strangerToken = try await c.token("grower", "pw", project: stranger.projectName)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: strangerToken, json: ["os-extend": ["new_size": 3]],
                                     headers: Self.at("3.42")).status == .notFound)
        }
    }

    @Test func aVolumeIsMadeFromABackupAndBackupsKeepMetadata() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin, size: 2, extra: ["metadata": ["kept": "yes"]])
            // 3.43: metadata on a backup, shown in its details, replaced by an update; refused before.
            #expect(try await c.call(.post, "/volume/v3/backups", token: admin, json: ["backup": ["volume_id": .string(volume), "metadata": ["a": "1"]]],
                                     headers: Self.at("3.42")).status == .badRequest)
            let made = try await c.call(.post, "/volume/v3/backups", token: admin, json: ["backup": ["volume_id": .string(volume), "metadata": ["a": "1"]]],
                                        headers: Self.at("3.43"))
            let backup = try #require(made["backup"]?["id"]?.stringValue, "\(made.body?.text ?? "")")
            try await c.waitFor("backups", backup, "available", token: admin, seconds: 30)
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)", token: admin, headers: Self.at("3.43"))["backup"]?["metadata"] == ["a": "1"])
            #expect(try await c.call(.get, "/volume/v3/backups/\(backup)", token: admin, headers: Self.at("3.42"))["backup"]?["metadata"] == nil)
            #expect(try await c.call(.put, "/volume/v3/backups/\(backup)", token: admin, json: ["backup": ["metadata": ["b": "2"]]], headers: Self.at("3.43")).status == .ok)
            #expect(try await c.call(.get, "/volume/v3/backups/detail", token: admin, headers: Self.at("3.43"))["backups"]?.array.first?["metadata"] == ["b": "2"])

            // 3.47: a volume from the backup, as large as it at least.
            let small = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["backup_id": .string(backup), "size": 1]], headers: Self.at("3.47"))
            #expect(small.status == .badRequest && small["badRequest"]?["message"]?.stringValue?.contains("cannot be smaller than the backup size") == true)
            #expect(try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["backup_id": .string(Identifier.uuid())]],
                                     headers: Self.at("3.47")).status == .notFound)
            let both = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["backup_id": .string(backup), "source_volid": .string(volume)]],
                                        headers: Self.at("3.47"))
            #expect(both.status == .badRequest)
            let restored = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["backup_id": .string(backup), "name": "from-backup"]],
                                            headers: Self.at("3.47"))
            let restoredID = try #require(restored["volume"]?["id"]?.stringValue, "\(restored.body?.text ?? "")")
            let ready = try await c.waitForVolume(restoredID, "available", token: admin, seconds: 30)["volume"]
            #expect(ready?["size"] == 2 && ready?["metadata"]?["kept"] == "yes" && ready?["name"] == "from-backup")
            try await c.waitFor("backups", backup, "available", token: admin, seconds: 30)
            // Another project's backup is not found.
            let other = try await c.makeMember(admin: admin, name: "borrower")
            let otherToken = try await c.token("borrower", "pw", project: other.projectName)
            #expect(try await c.call(.post, "/volume/v3/volumes", token: otherToken, json: ["volume": ["backup_id": .string(backup)]],
                                     headers: Self.at("3.47")).status == .notFound)

            // 3.45: how many match, across pages; a filter before.
            let counted = try await c.call(.get, "/volume/v3/volumes?with_count=true&limit=1", token: admin, headers: Self.at("3.45"))
            #expect(counted["count"] == 2 && counted["volumes"]?.array.count == 1)
            #expect(try await c.call(.get, "/volume/v3/backups?with_count=yes", token: admin, headers: Self.at("3.45"))["count"] == 1)
            #expect(try await c.call(.get, "/volume/v3/volumes?with_count=maybe", token: admin, headers: Self.at("3.45")).status == .badRequest)
            #expect(try await c.call(.get, "/volume/v3/volumes?with_count=true", token: otherToken, headers: Self.at("3.44")).status == .badRequest)
            #expect(try await c.call(.get, "/volume/v3/volumes?with_count=true", token: otherToken, headers: Self.at("3.45"))["count"] == 0)
        }
    }

    @Test func aComputeImageOfAVolumeBackedServerStandsForItsSnapshot() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            let snapshotReply = try await c.call(.post, "/volume/v3/snapshots", token: admin, json: ["snapshot": ["volume_id": .string(volume)]])
            let snapshot = try #require(snapshotReply["snapshot"]?["id"]?.stringValue)
            try await c.waitFor("snapshots", snapshot, "available", token: admin, seconds: 20)
            func image(naming snapshotID: String) async throws -> String {
                let mapping = "[{\"source_type\": \"snapshot\", \"snapshot_id\": \"\(snapshotID)\", \"boot_index\": 0, \"destination_type\": \"volume\"}]"
                let made = try await c.call(.post, "/image/v2/images", token: admin, json: [
                    "name": "server-image", "disk_format": "raw", "container_format": "bare", "block_device_mapping": .string(mapping), "bdm_v2": "True"])
                let id = try #require(made["id"]?.stringValue, "\(made.body?.text ?? "")")
                #expect(try await c.call(.put, "/image/v2/images/\(id)/file", token: admin, raw: Array(repeating: 0, count: 512),
                                         headers: ["Content-Type": "application/octet-stream"]).status == .noContent)
                return id
            }
            let serverImage = try await image(naming: snapshot)
            let made = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["imageRef": .string(serverImage)]], headers: Self.at("3.46"))
            let id = try #require(made["volume"]?["id"]?.stringValue, "\(made.body?.text ?? "")")
            let ready = try await c.waitForVolume(id, "available", token: admin)["volume"]
            #expect(ready?["snapshot_id"]?.stringValue == snapshot && ready?["size"] == 1)
            // An image whose snapshot is gone is a 404.
            let orphan = try await image(naming: Identifier.uuid())
            let missing = try await c.call(.post, "/volume/v3/volumes", token: admin, json: ["volume": ["imageRef": .string(orphan), "size": 1]], headers: Self.at("3.46"))
            #expect(missing.status == .notFound && missing["itemNotFound"]?["message"]?.stringValue?.contains("Nova specific image") == true)
        }
    }

    @Test func attachmentsCompleteAndViewsShowTheService() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            let made = try await c.call(.post, "/volume/v3/attachments", token: admin, json: ["attachment": ["volume_uuid": .string(volume),
                                                                                                          "instance_uuid": .string(Identifier.uuid())]],
                                        headers: Self.at("3.27"))
            let attachment = try #require(made["attachment"]?["id"]?.stringValue, "\(made.body?.text ?? "")")
            #expect(try await c.call(.put, "/volume/v3/attachments/\(attachment)", token: admin,
                                     json: ["attachment": ["connector": ["host": "node-1", "initiator": "x"]]], headers: Self.at("3.27")).status == .ok)
            #expect(try await c.call(.post, "/volume/v3/attachments/\(attachment)/action", token: admin, json: ["os-complete": .null],
                                     headers: Self.at("3.43")).status == .notFound)
            // 3.44: the host says it uses the volume.
            #expect(try await c.call(.post, "/volume/v3/attachments/\(attachment)/action", token: admin, json: ["os-complete": .null],
                                     headers: Self.at("3.44")).status == .noContent)
            #expect(try await c.call(.get, "/volume/v3/attachments/\(attachment)", token: admin, headers: Self.at("3.44"))["attachment"]?["status"] == "attached")
            let shown = try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin, headers: Self.at("3.48"))["volume"]
            #expect(shown?["status"] == "in-use" && shown?["attachments"]?.array.count == 1)
            // 3.48: the volume service's ID and whether targets are shared.
            #expect(shown?["shared_targets"] == false && UUID(uuidString: shown?["service_uuid"]?.stringValue ?? "") != nil)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin, headers: Self.at("3.47"))["volume"]?["service_uuid"] == nil)
            // 3.49: the volume service's backend state.
            let services = try await c.call(.get, "/volume/v3/os-services", token: admin, headers: Self.at("3.49"))["services"]?.array ?? []
            #expect(services.first { $0["binary"] == "cinder-volume" }?["backend_state"] == "up")
            #expect(services.first { $0["binary"] == "cinder-scheduler" }?["backend_state"] == nil)

            // 3.50: a retype to a multiattach type makes the volume multiattach, only while available.
            _ = try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "shared", "extra_specs": ["multiattach": "<is> True"]]])
            let spare = try await c.makeVolume(admin)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(spare)/action", token: admin, json: ["os-retype": ["new_type": "shared"]],
                                     headers: Self.at("3.50")).status == .accepted)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(spare)", token: admin)["volume"]?["multiattach"] == true)
            let busy = try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: admin, json: ["os-retype": ["new_type": "shared"]])
            #expect(busy.status == .badRequest && busy["badRequest"]?["message"]?.stringValue?.contains("multiattach") == true)
        }
    }

    /// The file driver keeps volumes as raw files, which several guests can write: a multiattach
    /// volume is made, attached to two servers, and each is told to open it shareable.
    @Test func theFileDriverSharesItsRawVolumes() async throws {
        let cloud = try await volumeCloud(driver: fileVolumeDriver)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let pools = try await c.call(.get, "/volume/v3/scheduler-stats/get_pools?detail=true", token: admin)["pools"]?.array ?? []
            #expect(pools.first?["capabilities"]?["multiattach"] == true)
            _ = try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "shared", "extra_specs": ["multiattach": "<is> True"]]])
            let volume = try await c.makeVolume(admin, extra: ["volume_type": "shared"])
            let folder = cloud.config.dataURL.appendingPathComponent("volumes").path
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["volume-\(volume).raw"])

            let (network, image) = try await c.bootPrerequisites(admin)
            var servers: [String] = []
            for name in ["one", "two"] {
                servers.append(try #require(try await c.boot(admin, name: name, image: image, network: network)["server"]?["id"]?.stringValue))
            }
            await cloud.compute.settle()
            for server in servers {
                let attached = try await c.call(.post, "/compute/v2.1/servers/\(server)/os-volume_attachments", token: admin,
                                                json: ["volumeAttachment": ["volumeId": .string(volume)]], headers: ["OpenStack-API-Version": "compute 2.60"])
                #expect(attached.status == .ok, "\(attached.body?.text ?? "")")
            }
            let shown = try await c.call(.get, "/volume/v3/volumes/\(volume)", token: admin)["volume"]
            #expect(shown?["status"] == "in-use" && shown?["multiattach"] == true && shown?["attachments"]?.array.count == 2)
            let hypervisor = try #require(cloud.compute.hypervisor as? FakeHypervisor)
            for server in servers {
                let connection = hypervisor.volumeConnection(server, volumeID: volume)
                #expect(connection?.data["multiattach"] == "true" && connection?.data["format"] == "raw"
                        && connection?.data["path"] == "\(folder)/volume-\(volume).raw")
            }
            // A volume that is not multiattach is opened by one guest only.
            let single = try await c.makeVolume(admin)
            _ = try await c.call(.post, "/compute/v2.1/servers/\(servers[0])/os-volume_attachments", token: admin,
                                 json: ["volumeAttachment": ["volumeId": .string(single)]])
            #expect(hypervisor.volumeConnection(servers[0], volumeID: single)?.data["multiattach"] == nil)
        }
    }
}
