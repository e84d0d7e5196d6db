import Foundation
import Hummingbird
import MartletCore

/// `/backups`: volumes copied to the object store, restored to a new or an existing volume,
/// and their records exported and imported (admins).
struct BackupRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }
    var views: Views { Views(service: service) }

    static let sortKeys: Set<String> = ["created_at", "id", "name", "size", "status", "updated_at", "volume_id"]
    /// How `export_record` names the service that kept the data, as Cinder names its Swift driver.
    static let backupService = "cinder.backup.drivers.swift.SwiftBackupDriver"
    static let defaultContainer = "volumebackups"

    func register(_ r: PolicyRouter) {
        r.get("/v3/backups", rule: "backup:get_all") { try await list($0, detailed: false) }
        r.get("/v3/backups/detail", rule: "backup:get_all") { try await list($0, detailed: true) }
        r.post("/v3/backups", rule: "backup:create") { try await create($0) }
        r.post("/v3/backups/import_record", rule: "backup:backup-import") { try await importRecord($0) }
        r.get("/v3/backups/:backup_id", rule: "backup:get", loadsTarget: true) { call in
            let backup = try await visibleBackup(call)
            let dependent = try await store.db.read { try await store.backups(parentID: backup.id, in: $0) }
            return .json(.ok, ["backup": views.backup(backup, detailed: true, hasDependents: !dependent.isEmpty, version: call.requestedVersion)])
        }
        // 3.9: a backup's name and description change.
        r.put("/v3/backups/:backup_id", rule: "backup:update", loadsTarget: true) { call in
            try call.require(3, 9)
            let backup = try await visibleBackup(call)
            let body = try VolumeInput.body(try await call.body(), "backup")
            // 3.43: metadata, which replaces what the backup had.
            let known: Set<String> = call.requestedVersion >= Microversion(3, 43) ? ["name", "description", "metadata"] : ["name", "description"]
            try VolumeInput.refuseUnknown(body, known)
            let name = try VolumeInput.text(body["name"], field: "name")
            let description = try VolumeInput.text(body["description"], field: "description")
            let metadata = try VolumeInput.metadata(body["metadata"])
            let updated = try await store.editBackup(backup.id) { b in
                if body["name"] != nil { b.name = name }
                if body["description"] != nil { b.description = description }
                if let metadata { b.metadata = metadata }
            }
            return .json(.ok, ["backup": views.backup(updated ?? backup)])
        }
        r.delete("/v3/backups/:backup_id", rule: "backup:delete", loadsTarget: true) { call in
            try await delete(try await visibleBackup(call), force: false)
        }
        r.post("/v3/backups/:backup_id/restore", rule: "backup:restore", loadsTarget: true) { try await restore($0) }
        r.get("/v3/backups/:backup_id/export_record", rule: "backup:backup-export", loadsTarget: true) { try await exportRecord($0) }
        r.post("/v3/backups/:backup_id/action", rule: "backup:get", loadsTarget: true) { try await act($0) }
    }

    private func visibleBackup(_ call: APICall) async throws -> Backup {
        let id = try call.param("backup_id")
        guard let backup = try await store.backup(id), call.canSee(projectID: backup.projectID) else { throw BlockStorageFault.backupNotFound(id) }
        try call.authorize(["project_id": backup.projectID])
        return backup
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try ResourceFilters.check(call, "backup")
        let q = call.queryItems
        let allProjects = call.isAdmin && ["1", "true", "True", "yes"].contains(q["all_tenants"] ?? "")
        var backups = try await store.db.read { try await store.backups(projectID: allProjects ? q["project_id"] : call.auth.projectID, in: $0) }
        let parents = Set(backups.compactMap(\.parentID))
        backups.removeAll { !ResourceFilters.matches($0.name, "name", call) || !ResourceFilters.matches($0.description, "description", call) }
        if let status = q["status"] { backups.removeAll { $0.status != status } }
        if let volume = q["volume_id"] { backups.removeAll { $0.volumeID != volume } }
        SortOrder.sort(&backups, by: try SortOrder.parse(call, allowed: Self.sortKeys), id: \.id) { b, key in
            switch key {
            case "id": .text(b.id)
            case "name": .text(b.name ?? "")
            case "size": .number(Double(b.size))
            case "status": .text(b.status)
            case "volume_id": .text(b.volumeID)
            case "updated_at": .number(b.updatedAt ?? 0)
            default: .number(b.createdAt)
            }
        }
        let page = try Paging.page(backups, call, id: \.id, path: "\(service.publicURL)/volume\(call.request.uri.path.dropFirst("/volume".count))")
        var body: [String: JSON] = [
            "backups": .array(page.items.map { detailed ? views.backup($0, detailed: true, hasDependents: parents.contains($0.id), version: call.requestedVersion) : views.backup($0) }),
        ]
        if let next = page.next { body["backups_links"] = [["rel": "next", "href": .string(next)]] }
        if try ResourceFilters.wantsCount(call) { body["count"] = JSON(backups.count) }
        return .json(.ok, .object(body))
    }

    private func create(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "backup")
        var known: Set<String> = ["volume_id", "container", "description", "incremental", "force", "name", "snapshot_id"]
        if call.requestedVersion >= Microversion(3, 43) { known.insert("metadata") }
        if call.requestedVersion >= Microversion(3, 51) { known.insert("availability_zone") }
        try VolumeInput.refuseUnknown(body, known)
        guard let volumeID = try VolumeInput.text(body["volume_id"], field: "volume_id") else { throw BlockStorageFault.invalidInput("'volume_id' is a required property") }
        let container = try Self.container(body["container"])
        let name = try VolumeInput.text(body["name"], field: "name")
        let description = try VolumeInput.text(body["description"], field: "description")
        let incremental = try VolumeInput.bool(body["incremental"], field: "incremental") ?? false
        let force = try VolumeInput.bool(body["force"], field: "force") ?? false
        let snapshotID = try VolumeInput.text(body["snapshot_id"], field: "snapshot_id")
        let metadata = try VolumeInput.metadata(body["metadata"]) ?? [:]
        // 3.51: the zone of the backup service to use; this one is in the only zone.
        if let zone = try VolumeInput.text(body["availability_zone"], field: "availability_zone"), zone != BlockStorageService.zone {
            throw APIError.notFound("Service cinder-backup could not be found.")
        }
        let volume = try await service.visibleVolume(call, volumeID)
        let now = BlockStorageStore.now()
        let (backup, parent) = try await store.db.transaction { db -> (Backup, Backup?) in
            guard var v = try await store.volume(volumeID, in: db) else { throw BlockStorageFault.volumeNotFound(volumeID) }
            var dataTimestamp = now
            if let snapshotID {
                guard var snapshot = try await store.snapshot(snapshotID, in: db), snapshot.volumeID == v.id else {
                    throw BlockStorageFault.invalidSnapshot("Snapshot \(snapshotID) is not a snapshot of volume \(v.id).")
                }
                guard snapshot.status == "available" else {
                    throw BlockStorageFault.invalidSnapshot("Snapshot to be backed up must be available, but the current status is \"\(snapshot.status)\".")
                }
                dataTimestamp = snapshot.createdAt
                snapshot.status = "backing-up"
                try await store.update(snapshot, in: db)
            } else {
                guard v.status == "available" || v.status == "in-use" else {
                    throw BlockStorageFault.invalidVolume("Volume to be backed up must be available or in-use, but the current status is \"\(v.status)\".")
                }
                guard v.status == "available" || force else {
                    throw BlockStorageFault.invalidVolume("Backing up an in-use volume must use the force flag.")
                }
                v.status = "backing-up"
                try await store.update(v, in: db)
            }
            var parent: Backup?
            if incremental {
                parent = try await store.latestBackup(volumeID: v.id, in: db)
                guard parent != nil else { throw BlockStorageFault.invalidBackup("No backups available to do an incremental backup.") }
            }
            try await store.lockProject(v.projectID, in: db)
            try await service.quotas.checkBackup(projectID: v.projectID, gigabytes: v.size, store: store, in: db)
            let id = Identifier.uuid()
            let backup = Backup(id: id, projectID: volume.projectID, userID: call.auth.userID, volumeID: v.id, snapshotID: snapshotID, name: name,
                                description: description, container: container ?? Self.defaultContainer, status: "creating", size: v.size,
                                availabilityZone: BlockStorageService.zone, parentID: parent?.id, metadata: metadata, createdAt: now, dataTimestamp: dataTimestamp,
                                objectProjectID: v.projectID, objectPrefix: Self.objectPrefix(volumeID: v.id, backupID: id, at: now),
                                volumeState: SavedVolumeState(metadata: v.metadata, bootable: v.bootable, imageMetadata: v.imageMetadata))
            try await store.insert(backup, in: db)
            return (backup, parent)
        }
        service.work.createBackup(backup, parent: parent)
        return .json(.accepted, ["backup": views.backup(backup)])
    }

    /// Objects are named as Cinder's Swift driver names them: by volume, time and backup.
    static func objectPrefix(volumeID: String, backupID: String, at time: Double) -> String {
        let stamp = DateFormatter()
        stamp.dateFormat = "yyyyMMddHHmmss"
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.locale = Locale(identifier: "en_US_POSIX")
        return "volume_\(volumeID)/\(stamp.string(from: Date(timeIntervalSince1970: time)))/az_\(BlockStorageService.zone)_backup_\(backupID)"
    }

    /// An object-store container name: not empty, no `/`, at most 255 characters.
    static func container(_ value: JSON?) throws -> String? {
        guard let name = try VolumeInput.text(value, field: "container") else { return nil }
        guard !name.isEmpty, !name.contains("/"), name.utf8.count <= 255 else {
            throw BlockStorageFault.invalidInput("'container' must be an object-store container name: not empty, without '/'.")
        }
        return name
    }

    private func delete(_ backup: Backup, force: Bool) async throws -> Response {
        _ = try await store.db.transaction { db in
            guard var b = try await store.backup(backup.id, in: db) else { throw BlockStorageFault.backupNotFound(backup.id) }
            guard force || ["available", "error"].contains(b.status) else {
                throw BlockStorageFault.invalidBackup("Backup status must be available or error")
            }
            guard try await store.backups(parentID: b.id, in: db).isEmpty else {
                throw BlockStorageFault.invalidBackup("Incremental backups exist for this backup.")
            }
            b.status = "deleting"
            try await store.update(b, in: db)
        }
        service.work.deleteBackup(backup.id)
        return .empty(.accepted)
    }

    private func restore(_ call: APICall) async throws -> Response {
        let backup = try await visibleBackup(call)
        let body = try VolumeInput.body(try await call.body(), "restore")
        let volumeID = try VolumeInput.text(body["volume_id"], field: "volume_id")
        let name = try VolumeInput.text(body["name"], field: "name")
        // The backup is taken first, so two restores of one backup cannot both start.
        _ = try await store.editBackup(backup.id) { b in
            guard b.status == "available" else { throw BlockStorageFault.invalidBackup("Backup status must be available") }
            b.status = "restoring"
        }
        let target: Volume
        do {
            if let volumeID {
                _ = try await service.visibleVolume(call, volumeID)
                target = try await store.db.transaction { db in
                    guard var v = try await store.volume(volumeID, in: db) else { throw BlockStorageFault.volumeNotFound(volumeID) }
                    guard v.status == "available" else {
                        throw BlockStorageFault.invalidVolume("Volume to be restored to must be available")
                    }
                    guard v.size >= backup.size else {
                        throw BlockStorageFault.invalidVolume("volume size \(v.size) is too small to restore backup of size \(backup.size).")
                    }
                    v.status = "restoring-backup"
                    try await store.update(v, in: db)
                    return v
                }
            } else {
                target = try await service.create(VolumeRequest(projectID: call.auth.projectID ?? backup.projectID, userID: call.auth.userID,
                                                                isAdmin: call.isAdmin, size: backup.size,
                                                                name: name ?? "restore_backup_\(backup.id)", restoring: backup))
            }
        } catch {
            try await store.editBackup(backup.id) { $0.status = "available" }
            throw error
        }
        if volumeID != nil { service.work.restoreBackup(backup, into: target, makesVolume: false) }
        return .json(.accepted, ["restore": ["backup_id": .string(backup.id), "volume_id": .string(target.id), "volume_name": .string(target.name ?? "")]])
    }

    // MARK: Export and import

    private func exportRecord(_ call: APICall) async throws -> Response {
        let backup = try await visibleBackup(call)
        guard backup.status == "available" else { throw BlockStorageFault.invalidBackup("Backup status must be available and not restoring.") }
        let record = Data(try JSONEncoder().encode(backup)).base64EncodedString()
        return .json(.ok, ["backup-record": ["backup_service": .string(Self.backupService), "backup_url": .string(record)]])
    }

    /// Re-creates a backup's record (after the database lost it) under the caller's project; its
    /// objects stay where they were. The record is checked as hostile input.
    private func importRecord(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "backup-record")
        guard let serviceName = try VolumeInput.text(body["backup_service"], field: "backup_service"),
              let url = try VolumeInput.text(body["backup_url"], field: "backup_url", maxLength: 64 << 20) else {
            throw BlockStorageFault.invalidInput("'backup_service' and 'backup_url' are required.")
        }
        guard serviceName == Self.backupService else { throw BlockStorageFault.invalidInput("Backup service \(serviceName) is not supported.") }
        guard let data = Data(base64Encoded: url), var backup = try? JSONDecoder().decode(Backup.self, from: data) else {
            throw BlockStorageFault.invalidInput("Can't parse backup record.")
        }
        try Self.check(imported: backup)
        let projectID = call.auth.projectID ?? backup.projectID
        backup.projectID = projectID
        backup.userID = call.auth.userID
        backup.status = "available"
        backup.failReason = nil
        backup.createdAt = BlockStorageStore.now()
        backup.updatedAt = nil
        try await store.db.transaction { db in
            guard try await store.backup(backup.id, in: db) == nil else { throw BlockStorageFault.invalidBackup("Backup already exists in database.") }
            if let parent = backup.parentID, try await store.backup(parent, in: db) == nil { backup.parentID = nil }
            try await store.lockProject(projectID, in: db)
            try await service.quotas.checkBackup(projectID: projectID, gigabytes: backup.size, store: store, in: db)
            try await store.insert(backup, in: db)
        }
        return .json(.created, ["backup": views.backup(backup)])
    }

    /// An imported record names only what a backup of this service could: sane IDs, names and chunk sizes.
    static func check(imported b: Backup) throws {
        func bad(_ what: String) -> APIError { BlockStorageFault.invalidInput("Invalid backup record: \(what).") }
        let ids = [b.id, b.volumeID, b.objectProjectID] + [b.parentID, b.snapshotID].compactMap { $0 }
        guard ids.allSatisfy({ !$0.isEmpty && $0.count <= 64 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } }) else {
            throw bad("an ID is not an ID")
        }
        guard (try? container(.string(b.container))) != nil else { throw bad("the container name") }
        guard b.size > 0, b.size <= 1 << 20 else { throw bad("the size") }
        guard b.chunks.allSatisfy({ $0.length > 0 && $0.length <= BackupEngine.chunkSize && ($0.object?.utf8.count ?? 0) <= 1024 }),
              b.chunks.reduce(0, { $0 + $1.length }) <= b.size << 30 else { throw bad("the chunks") }
        guard !b.objectPrefix.isEmpty, b.objectPrefix.utf8.count <= 512 else { throw bad("the object prefix") }
    }

    // MARK: Admin actions

    private func act(_ call: APICall) async throws -> Response {
        let backup = try await visibleBackup(call)
        let (name, value) = try await VolumeInput.action(call)
        func allow(_ rule: String) throws { try call.allow(rule, projectID: backup.projectID) }
        switch name {
        case "os-reset_status":
            try allow("volume_extension:backup_admin_actions:reset_status")
            guard let status = try VolumeInput.text(value["status"], field: "status"), ["available", "error"].contains(status) else {
                throw BlockStorageFault.invalidInput("Must specify a valid status")
            }
            _ = try await store.editBackup(backup.id) { $0.status = status }
            return .empty(.accepted)
        case "os-force_delete":
            try allow("volume_extension:backup_admin_actions:force_delete")
            return try await delete(backup, force: true)
        default:
            throw BlockStorageFault.invalidInput("There is no such action: \(name)")
        }
    }
}
