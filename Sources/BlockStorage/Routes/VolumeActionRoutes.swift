import DriverKit
import Foundation
import ServiceContracts
import Hummingbird
import MartletCore

/// `POST /volumes/{id}/action`: one action per request, each checked against its own Cinder rule.
struct VolumeActionRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.post("/v3/volumes/:volume_id/action", rule: "volume:get", loadsTarget: true) { try await act($0) }
    }

    private func act(_ call: APICall) async throws -> Response {
        let volume = try await service.visibleVolume(call)
        let (name, value) = try await VolumeInput.action(call)
        let args: [String: JSON]
        switch value {
        case .object(let o): args = o
        case .null: args = [:]
        default: throw BlockStorageFault.invalidInput("The body of \(name) must be an object.")
        }
        func allow(_ rule: String) throws { try call.allow(rule, projectID: volume.projectID) }
        /// Changes the volume in one transaction; `change` throws to refuse its current state.
        func edit(_ change: @escaping @Sendable (inout Volume) throws -> Void) async throws -> Volume {
            guard let v = try await store.editVolume(volume.id, change) else { throw BlockStorageFault.volumeNotFound(volume.id) }
            return v
        }
        switch name {
        case "os-extend":
            // 3.42: an attached volume grows too, and its server is told.
            let attached = volume.status == "in-use" && call.requestedVersion >= Microversion(3, 42)
            try allow(attached ? "volume:extend_attached_volume" : "volume:extend")
            let newSize = try VolumeInput.size(args["new_size"], field: "new_size")
            guard let newSize else { throw BlockStorageFault.invalidInput("'new_size' is required.") }
            let expected = attached ? "in-use" : "available"
            try await store.db.transaction { db in
                guard var v = try await store.volume(volume.id, in: db) else { throw BlockStorageFault.volumeNotFound(volume.id) }
                guard v.status == expected else {
                    throw BlockStorageFault.invalidVolume("Volume status must be '\(expected)' to extend, currently \(v.status).")
                }
                // Two guests each holding the image could not both grow it.
                guard !attached || Set(v.attachments.compactMap(\.serverID)).count <= 1 else {
                    throw BlockStorageFault.invalidVolume("Volume \(v.id) is attached to more than one server; it can only be extended while attached to one.")
                }
                guard newSize > v.size else {
                    throw BlockStorageFault.invalidInput("New size for extend must be greater than current size. (current: \(v.size), extended: \(newSize)).")
                }
                try await store.lockProject(v.projectID, in: db)
                let typeName = try await store.type(v.typeID, in: db)?.name
                try await service.quotas.check(projectID: v.projectID, gigabytes: newSize - v.size, typeName: typeName, store: store, in: db)
                v.status = "extending"
                v.extendingTo = newSize
                try await store.update(v, in: db)
            }
            // Only Compute's own attachments name servers it runs; the attachments API may name any UUID.
            let servers = attached ? Array(Set(volume.attachments.filter { $0.status == "attached" && $0.byCompute == true }.compactMap(\.serverID))).sorted() : []
            service.work.extend(volume.id, to: newSize, inServers: servers,
                                requestedBy: Requester(userID: call.auth.userID, projectID: volume.projectID, requestID: call.context.requestID))
            return .empty(.accepted)

        case "revert":
            try call.require(3, 40)
            let snapshotID = try VolumeInput.text(args["snapshot_id"], field: "snapshot_id")
            // The volume's own project's snapshots: one a transfer left with the old owner is not its to revert to.
            let snapshots = try await store.db.read { try await store.snapshots(volumeID: volume.id, in: $0) }.filter { $0.projectID == volume.projectID }
            guard let latest = snapshots.max(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }) else {
                throw APIError.badRequest("Volume \(volume.id) doesn't have any snapshots.")
            }
            guard snapshotID == latest.id else {
                throw APIError.badRequest("Specified snapshot \(snapshotID ?? "None") is None or not the latest one of volume \(volume.id).")
            }
            let refusal = "Can't revert volume \(volume.id) to its latest snapshot \(latest.id)."
            guard volume.size == latest.size else {
                throw APIError.badRequest("\(refusal) The volume size must be equal to the snapshot size.")
            }
            try allow("volume:revert_to_snapshot")
            try await store.db.transaction { db in
                guard var v = try await store.volume(volume.id, in: db), v.status == "available" else {
                    throw APIError.conflict("Invalid volume: \(refusal) Volume's status must be 'available'.")
                }
                guard var s = try await store.snapshot(latest.id, in: db), s.status == "available" else {
                    throw APIError.conflict("Invalid snapshot: \(refusal) Snapshot's status must be 'available'.")
                }
                // Checked again here: an extend may have ended since the first look.
                guard v.size == s.size else { throw APIError.badRequest("\(refusal) The volume size must be equal to the snapshot size.") }
                v.status = "reverting"
                s.status = "restoring"
                try await store.update(v, in: db)
                try await store.update(s, in: db)
            }
            service.work.revert(volume.id, to: latest.id)
            return .empty(.accepted)

        case "os-reimage":
            try call.require(3, 68)
            return try await reimage(volume, args, call)

        case "os-extend_volume_completion":
            // Served at every version, as Cinder serves it; 3.71 tells Compute it may send it.
            try allow("volume_extension:volume_admin_actions:extend_volume_completion")
            try VolumeInput.refuseUnknown(args, ["error"])
            switch args["error"] {
            case nil, .null?, .bool?, .string?: break
            default: throw BlockStorageFault.invalidInput("Invalid input for field/attribute error. Value: \(args["error"]!). It is not of type 'string', 'null', 'boolean'")
            }
            // Cinder awaits this only for an extend its driver left to Compute (none of stock Cinder's
            // does). Here Compute grows the disk in process, during the extend: no volume awaits it.
            guard volume.status == "extending" else { throw BlockStorageFault.invalidVolume("Volume is not being extended.") }
            throw BlockStorageFault.invalidVolume("Required volume admin metadata is malformed or missing.")

        case "os-reset_status":
            try allow("volume_extension:volume_admin_actions:reset_status")
            let status = try VolumeInput.text(args["status"], field: "status")
            let attachStatus = try VolumeInput.text(args["attach_status"], field: "attach_status")
            let migration = try VolumeInput.text(args["migration_status"], field: "migration_status")
            guard status != nil || attachStatus != nil || migration != nil else {
                throw BlockStorageFault.invalidInput("Must specify 'status', 'attach_status' or 'migration_status' for update.")
            }
            if let status, !Volume.statuses.contains(status) { throw BlockStorageFault.invalidInput("Must specify a valid status") }
            if let attachStatus, !["attached", "detached"].contains(attachStatus) {
                throw BlockStorageFault.invalidInput("Must specify a valid attach status")
            }
            _ = try await edit { v in
                if let status { v.status = status }
                if attachStatus == "detached" { v.attachments.removeAll() }
                if let migration { v.migrationStatus = ["none", ""].contains(migration) ? nil : migration }
            }
            return .empty(.accepted)

        case "os-unmanage":
            // Block Storage forgets the volume; the backend keeps its bytes, to be managed again.
            try allow("volume_extension:volume_unmanage")
            try await store.db.transaction { db in
                guard let v = try await store.volume(volume.id, in: db) else { throw BlockStorageFault.volumeNotFound(volume.id) }
                if let refusal = v.deleteRefusal(snapshots: try await store.snapshots(volumeID: v.id, in: db).count, cascade: false) { throw refusal }
                try await store.deleteVolume(v.id, in: db)
            }
            return .empty(.accepted)

        case "os-force_delete":
            try allow("volume_extension:volume_admin_actions:force_delete")
            _ = try await edit { v in
                guard v.attachments.isEmpty else { throw BlockStorageFault.invalidVolume("Volume \(v.id) is attached; detach it first.") }
                v.status = "deleting"
            }
            service.work.delete(volume.id)
            return .empty(.accepted)

        case "os-set_bootable":
            try allow("volume:update_volume_bootable")
            guard let bootable = try VolumeInput.bool(args["bootable"], field: "bootable") else {
                throw BlockStorageFault.invalidInput("Must specify bootable in request.")
            }
            _ = try await edit { $0.bootable = bootable }
            return .empty(.ok)

        case "os-update_readonly_flag":
            try allow("volume:update_readonly_flag")
            guard let readonly = try VolumeInput.bool(args["readonly"], field: "readonly") else {
                throw BlockStorageFault.invalidInput("Must specify readonly in request.")
            }
            _ = try await edit { v in
                guard ["available", "in-use"].contains(v.status) else {
                    throw BlockStorageFault.invalidVolume("Volume status must be available or in-use to update its read-only flag.")
                }
                v.readonly = readonly
            }
            return .empty(.accepted)

        case "os-retype":
            try allow("volume:retype")
            guard let typeRef = try VolumeInput.text(args["new_type"], field: "new_type") else {
                throw BlockStorageFault.invalidInput("New volume type must be specified.")
            }
            try await store.db.transaction { db in
                guard var v = try await store.volume(volume.id, in: db) else { throw BlockStorageFault.volumeNotFound(volume.id) }
                guard let type = try await store.type(idOrName: typeRef, in: db),
                      type.isPublic || call.isAdmin || type.projects.contains(v.projectID) else { throw BlockStorageFault.typeNameNotFound(typeRef) }
                guard ["available", "in-use"].contains(v.status) else {
                    throw BlockStorageFault.invalidVolume("Volume status must be available or in-use to retype, currently \(v.status).")
                }
                guard v.typeID != type.id else { throw BlockStorageFault.invalidInput("Retype requires a different volume type.") }
                try type.refuseEncryption()
                // Whether the volume may be attached to several servers follows its type's extra spec.
                let multiattach = VolumeType.isMultiattach(type.extraSpecs)
                if multiattach { try allow("volume:multiattach") }
                guard multiattach == v.multiattach || v.status == "available" else {
                    throw BlockStorageFault.invalidInput("Invalid volume_type passed, retypes affecting multiattach are only allowed on available volumes, the specified volume however currently has a status of: \(v.status).")
                }
                guard service.capabilities.takes(type.extraSpecs, multiattach: multiattach) else {
                    throw BlockStorageFault.invalidInput("No valid backend was found: the backend does not offer what volume type \(type.name) asks for.")
                }
                v.multiattach = multiattach
                try await store.lockProject(v.projectID, in: db)
                try await service.quotas.check(projectID: v.projectID, volumes: 1, gigabytes: v.size, typeName: type.name, perVolume: false,
                                               typedOnly: true, store: store, in: db)
                v.typeID = type.id
                try await store.update(v, in: db)
            }
            return .empty(.accepted)

        case "os-reserve":
            try allow("volume:reserve_volume")
            _ = try await edit { v in
                guard v.status == "available" || (v.status == "in-use" && v.multiattach) else {
                    throw BlockStorageFault.invalidVolume("Volume status must be available to reserve, but the status is \(v.status).")
                }
                v.status = "attaching"
            }
            return .empty(.accepted)

        case "os-unreserve":
            try allow("volume:unreserve_volume")
            _ = try await edit { v in
                if v.status == "attaching" { v.status = v.restingStatus }
            }
            return .empty(.accepted)

        case "os-begin_detaching":
            try allow("volume:begin_detaching")
            _ = try await edit { v in
                guard v.status == "in-use" else { throw BlockStorageFault.invalidVolume("Volume status must be in-use to detach, but the status is \(v.status).") }
                v.status = "detaching"
            }
            return .empty(.accepted)

        case "os-roll_detaching":
            try allow("volume:roll_detaching")
            _ = try await edit { v in if v.status == "detaching" { v.status = "in-use" } }
            return .empty(.accepted)

        case "os-attach":
            try allow("volume:attach")
            let server = try VolumeInput.text(args["instance_uuid"], field: "instance_uuid")
            let host = try VolumeInput.text(args["host_name"], field: "host_name")
            guard server != nil || host != nil else { throw BlockStorageFault.invalidInput("Must specify 'instance_uuid' or 'host_name'.") }
            guard let mountpoint = try VolumeInput.text(args["mountpoint"], field: "mountpoint") else {
                throw BlockStorageFault.invalidInput("Must specify 'mountpoint'.")
            }
            let mode = try VolumeInput.text(args["mode"], field: "mode") ?? "rw"
            guard ["rw", "ro"].contains(mode) else { throw BlockStorageFault.invalidInput("Invalid attach mode '\(mode)', it must be 'rw' or 'ro'.") }
            _ = try await edit { v in
                guard ["available", "attaching"].contains(v.status) || (v.status == "in-use" && v.multiattach) else {
                    throw BlockStorageFault.invalidVolume("Volume status must be available or attaching to attach, but the status is \(v.status).")
                }
                v.attachments.append(VolumeAttachment(id: Identifier.uuid(), serverID: server, hostName: host, device: mountpoint,
                                                      attachedAt: BlockStorageStore.now(), status: "attached", mode: mode))
                v.status = "in-use"
            }
            return .empty(.accepted)

        case "os-detach":
            try allow("volume:detach")
            let attachment = try VolumeInput.text(args["attachment_id"], field: "attachment_id")
            // Another volume's attachment is refused (Cinder's mismatch check), not taken for this volume's only one.
            if let attachment, !volume.attachments.contains(where: { $0.id == attachment }),
               try await store.db.read({ try await store.volumes(projectID: nil, in: $0) }).contains(where: { $0.attachments.contains { $0.id == attachment } }) {
                throw BlockStorageFault.invalidInput("Mismatched volumes on attachment deletion.")
            }
            _ = try await edit { v in
                // Detaching what is not attached ends where it should be: nothing to do, as Cinder's cast answers.
                guard let index = v.attachments.firstIndex(where: { $0.id == attachment }) ?? (v.attachments.count == 1 ? 0 : nil) else { return }
                try Self.refuseComputeAttachment(v.attachments[index])
                v.attachments.remove(at: index)
                v.status = v.restingStatus
            }
            return .empty(.accepted)

        case "os-initialize_connection":
            try allow("volume:initialize_connection")
            for attachment in volume.attachments { try Self.refuseComputeAttachment(attachment) }
            guard case .object(let connector)? = args["connector"] else { throw BlockStorageFault.invalidInput("Must specify 'connector'.") }
            let host = connector["host"]?.stringValue ?? connector["ip"]?.stringValue ?? "localhost"
            let connection = try await service.driver.connect(volume.id, host: host)
            var data = connection.data.mapValues { JSON.string($0) }
            data["access_mode"] = .string(volume.readonly == true ? "ro" : "rw")
            data["volume_id"] = .string(volume.id)
            return .json(.ok, ["connection_info": ["driver_volume_type": .string(connection.driverVolumeType), "data": .object(data)]])

        case "os-terminate_connection":
            try allow("volume:terminate_connection")
            for attachment in volume.attachments { try Self.refuseComputeAttachment(attachment) }
            guard case .object(let connector)? = args["connector"] else { throw BlockStorageFault.invalidInput("Must specify 'connector'.") }
            let host = connector["host"]?.stringValue ?? connector["ip"]?.stringValue ?? "localhost"
            try await service.driver.disconnect(volume.id, host: host)
            return .empty(.accepted)

        case "os-volume_upload_image":
            try allow("volume_extension:volume_actions:upload_image")
            guard let imageName = try VolumeInput.text(args["image_name"], field: "image_name"), !imageName.isEmpty else {
                throw BlockStorageFault.invalidInput("'image_name' is required.")
            }
            let force = try VolumeInput.bool(args["force"], field: "force") ?? false
            let diskFormat = try VolumeInput.text(args["disk_format"], field: "disk_format") ?? "raw"
            let containerFormat = try VolumeInput.text(args["container_format"], field: "container_format") ?? "bare"
            guard VolumeImage.uploadFormats.contains(diskFormat) else {
                throw BlockStorageFault.invalidInput("Invalid disk-format '\(diskFormat)' is specified. Allowed disk-formats are \(VolumeImage.uploadFormats.sorted().joined(separator: ", ")).")
            }
            // 3.1: the image's visibility and protection; a public image is an admin's to make.
            let since31 = call.requestedVersion >= Microversion(3, 1)
            let visibility = since31 ? try VolumeInput.text(args["visibility"], field: "visibility") ?? "private" : "private"
            let protected = since31 ? try VolumeInput.bool(args["protected"], field: "protected") ?? false : false
            guard ["public", "private", "shared", "community"].contains(visibility) else {
                throw BlockStorageFault.invalidInput("Invalid visibility '\(visibility)': it is one of public, private, shared, community.")
            }
            if visibility == "public" { try allow("volume_extension:volume_actions:upload_public") }
            _ = try await edit { v in
                guard v.status == "available" || (force && v.status == "in-use") else {
                    throw BlockStorageFault.invalidVolume("Volume \(v.id) status must be available or in-use with force, but current status is: \(v.status).")
                }
                v.status = "uploading"
            }
            let image: BootImage
            do {
                image = try await service.images.createSnapshot(name: imageName, projectID: volume.projectID, properties: VolumeImage.carried(volume),
                                                                minDisk: volume.size, minRam: 0, diskFormat: diskFormat, containerFormat: containerFormat,
                                                                visibility: visibility, protected: protected)
            } catch {
                _ = try? await edit { $0.status = $0.restingStatus }
                throw error
            }
            service.work.upload(volume.id, image: image.id, format: diskFormat)
            let type = try await store.db.read { try await store.type(volume.typeID, in: $0) }
            var uploaded: [String: JSON] = [
                "id": .string(volume.id), "updated_at": Views.time(BlockStorageStore.now()), "status": "uploading",
                "display_description": JSON(volume.description), "size": JSON(volume.size),
                "volume_type": type.map { Views(service: service).type($0) } ?? .null, "image_id": .string(image.id),
                "container_format": .string(containerFormat), "disk_format": .string(diskFormat), "image_name": .string(imageName),
            ]
            if since31 {
                uploaded["visibility"] = .string(visibility)
                uploaded["protected"] = .bool(protected)
            }
            return .json(.accepted, ["os-volume_upload_image": .object(uploaded)])

        case "os-force_detach":
            try allow("volume_extension:volume_admin_actions:force_detach")
            let attachment = try VolumeInput.text(args["attachment_id"], field: "attachment_id")
            let detached = try await edit { v in
                let gone = v.attachments.filter { attachment == nil || $0.id == attachment }
                guard !gone.isEmpty else { throw BlockStorageFault.invalidVolume("Volume \(v.id) has no attachment \(attachment ?? "")") }
                for one in gone { try Self.refuseComputeAttachment(one) }
                v.attachments.removeAll { attachment == nil || $0.id == attachment }
                v.status = v.restingStatus
            }
            for host in Set(volume.attachments.compactMap(\.hostName)) where !detached.attachments.contains(where: { $0.hostName == host }) {
                try await service.driver.disconnect(volume.id, host: host)
            }
            return .empty(.accepted)

        case "os-set_image_metadata":
            try allow("volume_extension:volume_image_metadata:set")
            guard let items = try VolumeInput.metadata(args["metadata"]) else { throw BlockStorageFault.invalidInput("'metadata' is required.") }
            let v = try await edit { $0.imageMetadata = ($0.imageMetadata ?? [:]).merging(items) { _, new in new } }
            return .json(.ok, ["metadata": Views.strings(v.imageMetadata ?? [:])])

        case "os-unset_image_metadata":
            try allow("volume_extension:volume_image_metadata:remove")
            guard let key = try VolumeInput.text(args["key"], field: "key") else { throw BlockStorageFault.invalidInput("'key' is required.") }
            guard volume.imageMetadata?[key] != nil else { throw APIError.notFound("Glance metadata for volume \(volume.id) has no key \(key).") }
            _ = try await edit { $0.imageMetadata?.removeValue(forKey: key) }
            return .empty(.ok)

        case "os-show_image_metadata":
            try allow("volume_extension:volume_image_metadata:show")
            return .json(.ok, ["metadata": Views.strings(volume.imageMetadata ?? [:])])

        default:
            throw BlockStorageFault.invalidInput("There is no such action: \(name)")
        }
    }

    /// An attachment Compute made for a server is Compute's to end: removing it here would leave
    /// the disk in the guest while the volume is handed to someone else.
    static func refuseComputeAttachment(_ attachment: VolumeAttachment) throws {
        guard attachment.byCompute != true else {
            throw APIError.conflict("Volume attachment \(attachment.id) was made by Compute for server \(attachment.serverID ?? ""): detach it through Compute.")
        }
    }
}

extension VolumeActionRoutes {
    /// `os-reimage` (3.68): the volume gets an image's bytes (or, for a Compute image of a
    /// volume-backed server, its root volume's snapshot's) and keeps its ID, size and attachment,
    /// as Nova's rebuild of a volume-backed server asks.
    fileprivate func reimage(_ volume: Volume, _ args: [String: JSON], _ call: APICall) async throws -> Response {
        try VolumeInput.refuseUnknown(args, ["image_id", "reimage_reserved"])
        guard let imageID = try VolumeInput.text(args["image_id"], field: "image_id") else {
            throw BlockStorageFault.invalidInput("'image_id' is a required property")
        }
        guard UUID(uuidString: imageID) != nil else {
            throw BlockStorageFault.invalidInput("Invalid input for field/attribute image_id. Value: \(imageID). '\(imageID)' is not a 'uuid'")
        }
        let reserved = try VolumeInput.bool(args["reimage_reserved"], field: "reimage_reserved") ?? false
        let caller = VolumeRequest(projectID: call.auth.projectID ?? volume.projectID, userID: call.auth.userID, isAdmin: call.isAdmin)
        let job = try await service.reimageJob(imageID: imageID, for: volume, caller: caller)
        try call.allow(volume.status == "reserved" ? "volume:reimage_reserved" : "volume:reimage", projectID: volume.projectID)
        let statuses = reserved ? ["available", "error", "reserved"] : ["available", "error"]
        guard let started = try await store.editVolume(volume.id, { v in
            guard v.attachments.count <= 1 else { throw APIError.conflict("Cannot re-image a volume which is attached to more than one server.") }
            guard statuses.contains(v.status) else {
                throw BlockStorageFault.invalidVolume("Volume \(v.id) status must be \(statuses.joined(separator: " or ")), but current status is \(v.status).")
            }
            v.beginReimage(job)
        }), let running = started.reimaging else { throw BlockStorageFault.volumeNotFound(volume.id) }
        service.work.reimage(volume.id, running)
        return .empty(.accepted)
    }
}
