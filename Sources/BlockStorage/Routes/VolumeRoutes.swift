import Crypto
import DriverKit
import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/volumes`: create, list, show, update, delete, and their metadata.
struct VolumeRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }
    var views: Views { Views(service: service) }

    func register(_ r: PolicyRouter) {
        r.get("/v3/volumes", rule: "volume:get_all") { try await list($0, detail: false) }
        r.get("/v3/volumes/detail", rule: "volume:get_all") { try await list($0, detail: true) }
        // 3.12: how many volumes and how large, all told.
        r.get("/v3/volumes/summary", rule: "volume:get_all") { call in
            try call.require(3, 12)
            let allProjects = call.isAdmin && ["1", "true", "True", "yes"].contains(call.query("all_tenants") ?? "")
            let volumes = try await store.db.read { try await store.volumes(projectID: allProjects ? nil : call.auth.projectID, in: $0) }
            var summary: [String: JSON] = ["total_size": JSON(volumes.reduce(0) { $0 + $1.size }), "total_count": JSON(volumes.count)]
            // 3.36: every metadata key with the distinct values it has.
            if call.requestedVersion >= Microversion(3, 36) {
                var values: [String: Set<String>] = [:]
                for v in volumes { for (key, value) in v.metadata { values[key, default: []].insert(value) } }
                summary["metadata"] = .object(values.mapValues { JSON($0.sorted()) })
            }
            return .json(.ok, ["volume-summary": .object(summary)])
        }
        r.post("/v3/volumes", rule: "volume:create") { try await create($0) }
        r.get("/v3/volumes/:volume_id", rule: "volume:get", loadsTarget: true) { call in
            let volume = try await service.visibleVolume(call)
            return .json(.ok, ["volume": try await render(volume, call)])
        }
        r.put("/v3/volumes/:volume_id", rule: "volume:update", loadsTarget: true) { try await update($0) }
        r.delete("/v3/volumes/:volume_id", rule: "volume:delete", loadsTarget: true) { try await delete($0) }
        registerMetadata(r)
    }

    func render(_ volume: Volume, _ call: APICall, detailed: Bool = true) async throws -> JSON {
        let type = try await store.db.read { try await store.type(volume.typeID, in: $0) }
        return views.volume(volume, typeName: type?.name, admin: call.isAdmin, detailed: detailed, version: call.requestedVersion)
    }

    // MARK: List

    /// A filter given as a dictionary; clients send a Python-ish one: `{'k': 'v'}`.
    static func dictionaryFilter(_ raw: String, _ name: String) throws -> [String: String] {
        let text = raw.replacingOccurrences(of: "'", with: "\"")
        guard let wanted = try? VolumeInput.metadata(try JSON.parse(Array(text.utf8))) else {
            throw BlockStorageFault.invalidInput("\(name) filter \(raw) is not an object of strings.")
        }
        return wanted ?? [:]
    }

    static let sortKeys: Set<String> = ["created_at", "id", "name", "size", "status", "updated_at", "availability_zone", "bootable"]

    func list(_ call: APICall, detail: Bool) async throws -> Response {
        // `GET /volumes/` names a volume with an empty ID, as Cinder routes it.
        if call.request.uri.path.hasSuffix("/") { throw BlockStorageFault.volumeNotFound("") }
        try ResourceFilters.check(call, "volume")
        let q = call.queryItems
        let allProjects = call.isAdmin && ["1", "true", "True", "yes"].contains(q["all_tenants"] ?? "")
        let project = allProjects ? q["project_id"] : call.auth.projectID
        var volumes = try await store.db.read { try await store.volumes(projectID: project, in: $0) }
        if let name = q["display_name"] { volumes.removeAll { $0.name != name } }
        volumes.removeAll { !ResourceFilters.matches($0.name, "name", call) || !ResourceFilters.matches($0.description, "description", call) }
        if let status = q["status"] { volumes.removeAll { $0.status != status } }
        if let size = q["size"] { volumes.removeAll { String($0.size) != size } }
        if let migration = q["migration_status"] { volumes.removeAll { $0.migrationStatus != migration } }
        if let zone = q["availability_zone"] { volumes.removeAll { $0.availabilityZone != zone } }
        if let bootable = q["bootable"] {
            let wanted = try VolumeInput.bool(.string(bootable), field: "bootable")
            volumes.removeAll { $0.bootable != wanted }
        }
        if let raw = q["metadata"] {
            let wanted = try Self.dictionaryFilter(raw, "metadata")
            volumes.removeAll { v in wanted.contains { v.metadata[$0.key] != $0.value } }
        }
        // 3.4: by the image attributes a volume was made with.
        if call.requestedVersion >= Microversion(3, 4), let raw = q["glance_metadata"] {
            let wanted = try Self.dictionaryFilter(raw, "glance_metadata")
            volumes.removeAll { v in wanted.contains { v.imageMetadata?[$0.key] != $0.value } }
        }
        // 3.60: by when each was made and last changed.
        if let created = try TimeFilter("created_at", call) { volumes.removeAll { !created.matches($0.createdAt) } }
        if let updated = try TimeFilter("updated_at", call) { volumes.removeAll { !updated.matches($0.updatedAt) } }
        if try ResourceFilters.consumesQuota(call) == false { volumes.removeAll() }
        // 3.10: by generic group.
        if call.requestedVersion >= Microversion(3, 10), let group = q["group_id"] { volumes.removeAll { $0.groupID != group } }
        var types: [String: String] = [:]
        for type in try await store.db.read({ try await store.types(in: $0) }) { types[type.id] = type.name }
        try sort(&volumes, call)
        let page = try paginate(volumes, call, id: \.id)
        let rendered: [JSON] = page.items.map { detail ? views.volume($0, typeName: types[$0.typeID], admin: call.isAdmin, version: call.requestedVersion) : views.summary($0) }
        var body: [String: JSON] = ["volumes": .array(rendered)]
        if try ResourceFilters.wantsCount(call) { body["count"] = JSON(volumes.count) }
        if let next = page.next { body["volumes_links"] = [["rel": "next", "href": .string(next)]] }
        return .json(.ok, .object(body))
    }

    private func sort(_ volumes: inout [Volume], _ call: APICall) throws {
        SortOrder.sort(&volumes, by: try SortOrder.parse(call, allowed: Self.sortKeys), id: \.id) { v, key in
            switch key {
            case "id": .text(v.id)
            case "name": .text(v.name ?? "")
            case "size": .number(Double(v.size))
            case "status": .text(v.status)
            case "availability_zone": .text(v.availabilityZone)
            case "bootable": .number(v.bootable ? 1 : 0)
            case "updated_at": .number(v.updatedAt ?? 0)
            default: .number(v.createdAt)
            }
        }
    }

    func paginate<T>(_ items: [T], _ call: APICall, id: KeyPath<T, String>) throws -> (items: ArraySlice<T>, next: String?) {
        try Paging.page(items, call, id: id, path: "\(service.publicURL)/volume\(call.request.uri.path.dropFirst("/volume".count))")
    }

    // MARK: Create

    static let createKeys: Set<String> = ["name", "description", "display_name", "display_description", "volume_type", "metadata", "snapshot_id",
                                          "source_volid", "consistencygroup_id", "size", "availability_zone", "multiattach", "image_id", "imageRef",
                                          "group_id", "backup_id"]
    static let updateKeys: Set<String> = ["name", "description", "display_name", "display_description", "metadata"]

    /// From 3.53 a body with a key the schema does not name is a 400 (before, such keys were ignored).
    static func refuseUnknown(_ body: [String: JSON], _ known: Set<String>, _ call: APICall) throws {
        if call.requestedVersion >= Microversion(3, 53) { try VolumeInput.refuseUnknown(body, known) }
    }

    func create(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "volume")
        try Self.refuseUnknown(body, Self.createKeys, call)
        let projectID = try call.auth.projectID ?? { throw APIError.badRequest("A project-scoped token is needed to create a volume.") }()
        var request = VolumeRequest(
            projectID: projectID, userID: call.auth.userID, isAdmin: call.isAdmin,
            size: try VolumeInput.size(body["size"]),
            name: try VolumeInput.text(body["name"] ?? body["display_name"], field: "name"),
            description: try VolumeInput.text(body["description"] ?? body["display_description"], field: "description"),
            metadata: try VolumeInput.metadata(body["metadata"]) ?? [:],
            zone: try VolumeInput.text(body["availability_zone"], field: "availability_zone"),
            multiattach: try VolumeInput.bool(body["multiattach"], field: "multiattach") ?? false,
            snapshotID: try VolumeInput.text(body["snapshot_id"], field: "snapshot_id"),
            sourceVolumeID: try VolumeInput.text(body["source_volid"], field: "source_volid"),
            imageID: try VolumeInput.text(body["imageRef"] ?? body["image_id"], field: "imageRef"),
            typeRef: try VolumeInput.text(body["volume_type"], field: "volume_type"),
            groupID: call.requestedVersion >= Microversion(3, 13) ? try VolumeInput.text(body["group_id"], field: "group_id") : nil)
        // A volume several servers may attach needs its own rule (the type's extra spec, or the old flag).
        if try await makesMultiattach(request) { try call.allow("volume:multiattach", projectID: projectID) }
        if let imageID = request.imageID, let boot = try await bootSnapshot(of: imageID, request) {
            // 3.46: the image of a volume-backed server stands for its root volume's snapshot.
            if call.requestedVersion >= Microversion(3, 46) { (request.snapshotID, request.imageID) = (boot.id, nil) }
        }
        let backupID = try VolumeInput.text(body["backup_id"], field: "backup_id")
        if let backupID, UUID(uuidString: backupID) == nil {
            throw BlockStorageFault.invalidInput("Invalid input for field/attribute backup_id. Value: \(backupID). '\(backupID)' is not valid under any of the given schemas")
        }
        guard let backupID else {
            return .json(.accepted, ["volume": try await render(try await service.create(request), call, detailed: false)])
        }
        return .json(.accepted, ["volume": try await render(try await createFromBackup(backupID, request, call), call, detailed: false)])
    }

    private func makesMultiattach(_ request: VolumeRequest) async throws -> Bool {
        if request.multiattach { return true }
        guard let ref = request.typeRef, let type = try await store.db.read({ try await store.type(idOrName: ref, in: $0) }) else { return false }
        return VolumeType.isMultiattach(type.extraSpecs)
    }

    /// The volume snapshot that a Compute image of a volume-backed server boots from (its
    /// `block_device_mapping` entry with `boot_index` 0), with the size that entry gives; a 404
    /// when it names one that is gone, as Cinder answers at every version.
    func bootSnapshot(of imageID: String, _ request: VolumeRequest) async throws -> (id: String, sizeGB: Int?)? {
        guard let image = try await service.images.bootImage(id: imageID, projectID: request.projectID, isAdmin: request.isAdmin),
              let text = image.properties["block_device_mapping"], let mapping = try? JSON.parse(Array(text.utf8)) else { return nil }
        let root = mapping.array.first { entry in
            entry["source_type"] == "snapshot" && (entry["boot_index"] == 0 || entry["boot_index"] == "0")
        }
        guard let snapshotID = root?["snapshot_id"]?.stringValue else { return nil }
        guard let snapshot = try await store.snapshot(snapshotID), request.canSee(snapshot.projectID) else {
            throw APIError.notFound("Nova specific image is found, but boot volume snapshot id:\(snapshotID) not found.")
        }
        let size = root?["volume_size"].flatMap { try? VolumeInput.size($0, field: "volume_size") } ?? nil
        return (snapshot.id, size)
    }

    /// 3.47: a new volume holding a backup's bytes (Cinder reads `backup_id` at every version now).
    /// The backup is `restoring` until they are in, so two restores of it cannot both start.
    private func createFromBackup(_ backupID: String, _ request: VolumeRequest, _ call: APICall) async throws -> Volume {
        guard [request.snapshotID, request.sourceVolumeID, request.imageID].allSatisfy({ $0 == nil }) else {
            throw BlockStorageFault.invalidInput("May specify only one of backup, imageRef, snapshot, source volume")
        }
        guard let found = try await store.backup(backupID), call.canSee(projectID: found.projectID),
              call.can("backup:get", ["project_id": found.projectID]) else { throw BlockStorageFault.backupNotFound(backupID) }
        let size = request.size ?? found.size
        guard size >= found.size else {
            throw BlockStorageFault.invalidInput("Volume size \(size)GB cannot be smaller than the backup size \(found.size)GB. It must be >= backup size.")
        }
        guard let backup = try await store.editBackup(backupID, { b in
            guard b.status == "available" else { throw BlockStorageFault.invalidBackup("Originating backup status must be one of 'available' values") }
            b.status = "restoring"
        }) else { throw BlockStorageFault.backupNotFound(backupID) }
        var restoring = request
        (restoring.size, restoring.restoring) = (size, backup)
        do {
            return try await service.create(restoring)
        } catch {
            try await store.editBackup(backupID) { $0.status = "available" }
            throw error
        }
    }

    // MARK: Update and delete

    func update(_ call: APICall) async throws -> Response {
        let volume = try await service.visibleVolume(call)
        let body = try VolumeInput.body(try await call.body(), "volume")
        try Self.refuseUnknown(body, Self.updateKeys, call)
        if call.requestedVersion >= Microversion(3, 53), body.isEmpty {
            throw BlockStorageFault.invalidInput("At least one of name, description, display_name, display_description or metadata is required.")
        }
        let name = try VolumeInput.text(body["name"] ?? body["display_name"], field: "name")
        let description = try VolumeInput.text(body["description"] ?? body["display_description"], field: "description")
        let metadata = try VolumeInput.metadata(body["metadata"])
        guard let updated = try await store.editVolume(volume.id, { v in
            if body["name"] != nil || body["display_name"] != nil { v.name = name }
            if body["description"] != nil || body["display_description"] != nil { v.description = description }
            if let metadata { v.metadata = metadata }
        }) else { throw BlockStorageFault.volumeNotFound(volume.id) }
        return .json(.ok, ["volume": try await render(updated, call, detailed: false)])
    }

    func delete(_ call: APICall) async throws -> Response {
        let volume = try await service.visibleVolume(call)
        let cascade = ["1", "true", "True", "yes"].contains(call.query("cascade") ?? "")
        // 3.23: `force`, an admin's, deletes in any status (nothing attached, no migration).
        let force = call.requestedVersion >= Microversion(3, 23) && ["1", "true", "True", "yes"].contains(call.query("force") ?? "")
        if force { try call.allow("volume_extension:volume_admin_actions:force_delete", projectID: volume.projectID) }
        try await store.db.transaction { db in
            guard var v = try await store.volume(volume.id, in: db) else { throw BlockStorageFault.volumeNotFound(volume.id) }
            let snapshots = try await store.snapshots(volumeID: v.id, in: db)
            if let refusal = v.deleteRefusal(snapshots: snapshots.count, cascade: cascade, force: force) { throw refusal }
            // A transfer without snapshots left them with the old owner: not the new owner's to delete.
            if !call.isAdmin, snapshots.contains(where: { $0.projectID != v.projectID }) {
                throw BlockStorageFault.invalidVolume("Volume \(v.id) must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.")
            }
            if !snapshots.isEmpty {
                guard snapshots.allSatisfy({ ["available", "error"].contains($0.status) }) else {
                    throw BlockStorageFault.invalidVolume("Snapshots of volume \(v.id) must be available or error to delete them with it.")
                }
                for var s in snapshots {
                    s.status = "deleting"
                    try await store.update(s, in: db)
                }
            }
            v.status = "deleting"
            try await store.update(v, in: db)
        }
        service.work.delete(volume.id)
        return .empty(.accepted)
    }

    // MARK: Metadata

    private func registerMetadata(_ r: PolicyRouter) {
        r.get("/v3/volumes/:volume_id/metadata", rule: "volume:get_volume_metadata", loadsTarget: true) { call in
            let metadata = try await service.visibleVolume(call).metadata
            // 3.15: an ETag, which an update may send back in If-Match so as not to lose another's change.
            guard call.requestedVersion >= Microversion(3, 15) else { return .json(.ok, ["metadata": Views.strings(metadata)]) }
            return .json(.ok, ["metadata": Views.strings(metadata)], headers: [.eTag: Self.etag(metadata)])
        }
        r.post("/v3/volumes/:volume_id/metadata", rule: "volume:create_volume_metadata", loadsTarget: true) { call in
            let items = try await VolumeInput.metadataBody(call, "metadata")
            let v = try await editMetadata(call) { $0.merge(items) { _, new in new } }
            return .json(.ok, ["metadata": Views.strings(v.metadata)])
        }
        r.put("/v3/volumes/:volume_id/metadata", rule: "volume:update_volume_metadata", loadsTarget: true) { call in
            let items = try await VolumeInput.metadataBody(call, "metadata")
            let v = try await editMetadata(call, checksETag: true) { $0 = items }
            return .json(.ok, ["metadata": Views.strings(v.metadata)])
        }
        r.get("/v3/volumes/:volume_id/metadata/:key", rule: "volume:get_volume_metadata", loadsTarget: true) { call in
            let key = try call.param("key")
            guard let value = try await service.visibleVolume(call).metadata[key] else { throw APIError.notFound("Metadata \(key) could not be found.") }
            return .json(.ok, ["meta": [key: .string(value)]])
        }
        r.put("/v3/volumes/:volume_id/metadata/:key", rule: "volume:update_volume_metadata", loadsTarget: true) { call in
            let key = try call.param("key")
            let items = try await VolumeInput.metadataBody(call, "meta")
            guard items.count == 1, let value = items[key] else { throw APIError.badRequest("Request body and URI mismatch") }
            _ = try await editMetadata(call, checksETag: true) { $0[key] = value }
            return .json(.ok, ["meta": [key: .string(value)]])
        }
        r.delete("/v3/volumes/:volume_id/metadata/:key", rule: "volume:delete_volume_metadata", loadsTarget: true) { call in
            let key = try call.param("key")
            guard try await service.visibleVolume(call).metadata[key] != nil else { throw APIError.notFound("Metadata \(key) could not be found.") }
            _ = try await editMetadata(call) { $0.removeValue(forKey: key) }
            return .empty(.ok)
        }
    }

    /// `checksETag` (updates, 3.15): an `If-Match` that names no ETag of the metadata as it is now is refused (412).
    private func editMetadata(_ call: APICall, checksETag: Bool = false,
                              _ change: @escaping @Sendable (inout [String: String]) -> Void) async throws -> Volume {
        let volume = try await service.visibleVolume(call)
        let ifMatch = checksETag && call.requestedVersion >= Microversion(3, 15) ? call.request.header("If-Match") : nil
        guard let v = try await store.editVolume(volume.id, { v in
            if let ifMatch, ifMatch.trimmingCharacters(in: .whitespaces) != "*" {
                let tags = ifMatch.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
                guard tags.contains(Self.etag(v.metadata)) else { throw APIError(.preconditionFailed, "The metadata changed since its ETag was read.") }
            }
            change(&v.metadata)
        }) else { throw BlockStorageFault.volumeNotFound(volume.id) }
        return v
    }

    /// The ETag of a volume's metadata: MD5 of `{"metadata": …}` as this service writes it.
    static func etag(_ metadata: [String: String]) -> String {
        Insecure.MD5.hash(data: JSON.object(["metadata": Views.strings(metadata)]).serialized()).map { String(format: "%02x", $0) }.joined()
    }
}
