import DriverKit
import MartletCore
import ServiceContracts

/// Compute's side door: volumes reserved, connected and released for servers, in process, with
/// the same states Cinder's attachments API moves a volume through.
extension BlockStorageService: VolumeCatalog {
    public func volume(id: String, projectID: String) async throws -> VolumeSummary? {
        guard let v = try await store.volume(id), v.projectID == projectID else { return nil }
        return try await summary(v)
    }

    public func volumes(projectID: String) async throws -> [VolumeSummary] {
        let (volumes, types) = try await store.db.read { db in (try await store.volumes(projectID: projectID, in: db), try await store.types(in: db)) }
        let names = Dictionary(uniqueKeysWithValues: types.map { ($0.id, $0.name) })
        return volumes.map { Self.summary($0, typeName: names[$0.typeID]) }
    }

    private func summary(_ v: Volume) async throws -> VolumeSummary {
        Self.summary(v, typeName: try await store.db.read { try await store.type(v.typeID, in: $0)?.name })
    }

    private static func summary(_ v: Volume, typeName: String?) -> VolumeSummary {
        var s = VolumeSummary(id: v.id, status: v.status, sizeGB: v.size, bootable: v.bootable, multiattach: v.multiattach)
        (s.name, s.description, s.availabilityZone, s.createdAt) = (v.name, v.description, v.availabilityZone, v.createdAt)
        (s.typeName, s.snapshotID, s.metadata, s.imageID) = (typeName, v.snapshotID, v.metadata, v.imageMetadata?["image_id"])
        s.attachments = v.attachments.filter { $0.status == "attached" }.compactMap { a in
            a.serverID.map { VolumeSummary.Attachment(serverID: $0, device: a.device) }
        }
        return s
    }

    public func reserve(volumeID: String, for server: ServerRef) async throws {
        try await editForServer(volumeID) { v in
            // Reserved or attached for this server already: a repeated step (a build run again). Compute's from now on.
            if let index = v.attachments.firstIndex(where: { $0.serverID == server.deviceID }) {
                v.attachments[index].byCompute = true
                return
            }
            guard v.status == "available" || (v.status == "in-use" && v.multiattach) else {
                throw BlockStorageFault.invalidVolume("volume \(v.id) status must be available or in-use with multiattach, but it is \(v.status).")
            }
            v.attachments.append(VolumeAttachment(id: Identifier.uuid(), serverID: server.deviceID, status: "reserved", byCompute: true))
            if v.status == "available" { v.status = "reserved" }
        }
    }

    public func attach(volumeID: String, to server: ServerRef, host: String, device: String) async throws -> VolumeConnection {
        guard let volume = try await store.volume(volumeID),
              volume.attachments.contains(where: { $0.serverID == server.deviceID }) else {
            throw BlockStorageFault.invalidVolume("volume \(volumeID) is not reserved for server \(server.deviceID).")
        }
        var connection = try await driver.connect(volumeID, host: host)
        if volume.readonly == true { connection.data["access_mode"] = "ro" }
        // Nova marks the connection so the hypervisor opens the disk shareable.
        if volume.multiattach { connection.data["multiattach"] = "true" }
        if let attachment = volume.attachments.first(where: { $0.serverID == server.deviceID }) { connection.data["attachment_id"] = attachment.id }
        try await editForServer(volumeID) { v in
            guard let index = v.attachments.firstIndex(where: { $0.serverID == server.deviceID }) else {
                throw BlockStorageFault.invalidVolume("volume \(volumeID) lost its reservation for server \(server.deviceID).")
            }
            v.attachments[index].status = "attached"
            v.attachments[index].hostName = host
            v.attachments[index].device = device
            v.attachments[index].attachedAt = BlockStorageStore.now()
            v.attachments[index].mode = v.readonly == true ? "ro" : "rw"
            v.status = "in-use"
        }
        return connection
    }

    public func detach(volumeID: String, from server: ServerRef) async throws {
        guard let volume = try await store.volume(volumeID),
              let attachment = volume.attachments.first(where: { $0.serverID == server.deviceID }) else { return }
        // The host's connection goes when no other server there still uses the volume.
        if let host = attachment.hostName, !volume.attachments.contains(where: { $0.id != attachment.id && $0.hostName == host }) {
            try await driver.disconnect(volumeID, host: host)
        }
        try await editForServer(volumeID) { v in
            v.attachments.removeAll { $0.serverID == server.deviceID }
            if ["reserved", "in-use", "attaching", "detaching"].contains(v.status) { v.status = v.restingStatus }
        }
    }

    public func createVolume(projectID: String, userID: String, sizeGB: Int?, source: VolumeSpec.Source, name: String, description: String?,
                             metadata: [String: String]) async throws -> String {
        var request = VolumeRequest(projectID: projectID, userID: userID, size: sizeGB, name: name, description: description, metadata: metadata)
        switch source {
        case .blank: break
        case .image(let id): request.imageID = id
        case .snapshot(let id): request.snapshotID = id
        case .volume(let id): request.sourceVolumeID = id
        }
        return try await create(request).id
    }

    public func snapshotVolume(id: String, projectID: String, userID: String, name: String?, description: String?, force: Bool) async throws -> String {
        guard let volume = try await store.volume(id), volume.projectID == projectID else { throw BlockStorageFault.volumeNotFound(id) }
        return try await createSnapshot(volumeID: volume.id, userID: userID, name: name, description: description, metadata: [:], force: force).id
    }

    public func snapshots(projectID: String) async throws -> [SnapshotSummary] {
        try await store.db.read { try await store.snapshots(projectID: projectID, in: $0) }.map(Self.summary)
    }

    public func snapshot(id: String, projectID: String) async throws -> SnapshotSummary? {
        guard let s = try await store.snapshot(id), s.projectID == projectID else { return nil }
        return Self.summary(s)
    }

    public func deleteSnapshot(id: String, projectID: String) async throws {
        guard let s = try await store.snapshot(id), s.projectID == projectID else { throw BlockStorageFault.snapshotNotFound(id) }
        try await deleteSnapshot(s.id)
    }

    private static func summary(_ s: Snapshot) -> SnapshotSummary {
        SnapshotSummary(id: s.id, volumeID: s.volumeID, status: s.status, sizeGB: s.size, createdAt: s.createdAt, name: s.name, description: s.description)
    }

    /// The API's delete checks apply: a volume with snapshots, attached elsewhere or busy stays.
    public func deleteVolume(id: String) async throws {
        let found = try await store.db.transaction { db -> Bool in
            guard var v = try await store.volume(id, in: db) else { return false }
            if let refusal = v.deleteRefusal(snapshots: try await store.snapshots(volumeID: id, in: db).count, cascade: false) { throw refusal }
            v.status = "deleting"
            try await store.update(v, in: db)
            return true
        }
        if found { work.delete(id) }
    }

    /// Compute checked the image with the rights of whoever asked for the rebuild: it is looked up
    /// here with an admin's view.
    public func reimageVolume(id: String, imageID: String, for server: ServerRef) async throws {
        guard let volume = try await store.volume(id) else { throw BlockStorageFault.volumeNotFound(id) }
        let job = try await reimageJob(imageID: imageID, for: volume, caller: VolumeRequest(projectID: volume.projectID, userID: "", isAdmin: true))
        guard let started = try await store.editVolume(id, { v in
            guard v.attachments.count == 1, v.attachments.contains(where: { $0.serverID == server.deviceID }) else {
                throw APIError.conflict("Volume \(id) is not attached to server \(server.deviceID) alone.")
            }
            // A rebuild run again (after a restart) finds its re-image begun, and finishes it.
            if v.status == "downloading", v.reimaging?.source == job.source { return }
            guard v.status == "in-use" else { throw APIError.conflict("Volume \(id) is \(v.status), not in-use: it cannot be re-imaged now.") }
            v.beginReimage(job)
        }), let running = started.reimaging else { throw BlockStorageFault.volumeNotFound(id) }
        guard try await work.runReimage(id, running) else { throw APIError(.internalServerError, "Volume \(id) could not be re-imaged.") }
    }

    private func editForServer(_ id: String, _ change: @escaping @Sendable (inout Volume) throws -> Void) async throws {
        guard try await store.editVolume(id, change) != nil else { throw BlockStorageFault.volumeNotFound(id) }
    }
}
