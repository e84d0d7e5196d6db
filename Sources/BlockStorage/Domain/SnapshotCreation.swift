import MartletCore

extension BlockStorageService {
    /// Checks the volume's state (`force` takes an in-use one) and the project's quota, records the
    /// snapshot `creating` and leaves the copy to the driver; the snapshot as recorded.
    func createSnapshot(volumeID: String, userID: String, name: String?, description: String?, metadata: [String: String],
                        force: Bool) async throws -> Snapshot {
        let snapshot = try await store.db.transaction { db -> Snapshot in
            guard let v = try await store.volume(volumeID, in: db) else { throw BlockStorageFault.volumeNotFound(volumeID) }
            guard v.status == "available" || (force && v.status == "in-use") else {
                throw BlockStorageFault.invalidVolume("Volume \(v.id) status must be \(force ? "available, in-use" : "available"), but current status is: \(v.status).")
            }
            try await store.lockProject(v.projectID, in: db)
            let typeName = try await store.type(v.typeID, in: db)?.name
            try await quotas.check(projectID: v.projectID, snapshots: 1, gigabytes: v.size, typeName: typeName, store: store, in: db)
            let snapshot = Snapshot(id: Identifier.uuid(), projectID: v.projectID, userID: userID, volumeID: v.id, name: name,
                                    description: description, size: v.size, status: "creating", metadata: metadata, createdAt: BlockStorageStore.now())
            try await store.insert(snapshot, in: db)
            return snapshot
        }
        work.createSnapshot(snapshot)
        return snapshot
    }

    /// Marks an `available` or `error` snapshot `deleting` and leaves the rest to the driver.
    func deleteSnapshot(_ id: String) async throws {
        guard try await store.editSnapshot(id, { s in
            guard ["available", "error"].contains(s.status) else {
                throw BlockStorageFault.invalidSnapshot("Volume Snapshot status must be available or error, currently \(s.status).")
            }
            s.status = "deleting"
        }) != nil else { throw BlockStorageFault.snapshotNotFound(id) }
        work.deleteSnapshot(id)
    }
}
