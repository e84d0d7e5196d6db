import DriverKit
import Foundation
import Logging
import MartletCore
import ServiceContracts
import Synchronization

/// The driver's half of each request: the API records the new status and answers 202, then the
/// step runs here and records how it ended. A restart finds steps a crash cut off by their status
/// (`recover`) and ends them: nothing stays `creating` or `deleting` for ever.
final class VolumeWork: Sendable {
    let store: BlockStorageStore
    let driver: any VolumeDriver
    let images: any ImageCatalog
    let logger: Logger
    private let running = Mutex<[Int: Task<Void, Never>]>([:])
    private let nextTicket = Atomic<Int>(0)

    init(store: BlockStorageStore, driver: any VolumeDriver, images: any ImageCatalog, logger: Logger) {
        self.store = store
        self.driver = driver
        self.images = images
        self.logger = logger
    }

    /// Runs a step in the background, remembered until it ends so `settle` can wait for it.
    private func start(_ what: String, _ body: @escaping @Sendable () async throws -> Void) {
        let ticket = nextTicket.add(1, ordering: .relaxed).newValue
        running.withLock { tasks in
            tasks[ticket] = Task {
                do { try await body() } catch { self.logger.error("\(what) failed", metadata: ["error": "\(error)"]) }
                _ = self.running.withLock { $0.removeValue(forKey: ticket) }
            }
        }
    }

    func settle() async {
        while let task = running.withLock({ $0.values.first }) { await task.value }
    }

    // MARK: Volumes

    func create(_ volume: Volume, source: VolumeSpec.Source) {
        start("creating volume \(volume.id)") { [self] in
            do {
                try await driver.create(VolumeSpec(id: volume.id, sizeGB: volume.size, source: source))
            } catch {
                logger.error("volume create failed", metadata: ["volume": "\(volume.id)", "error": "\(error)"])
                try? await driver.delete(volume.id)
                try await store.editVolume(volume.id) { $0.status = "error" }
                return
            }
            let kept = try await store.editVolume(volume.id) { $0.status = "available" }
            // Deleted (force) while it was being made: its bytes go too.
            if kept == nil { try await driver.delete(volume.id) }
        }
    }

    /// Deletes the volume's snapshots (cascade), its bytes, then its record; `error_deleting` when the driver refuses.
    func delete(_ volumeID: String) {
        start("deleting volume \(volumeID)") { [self] in
            do {
                for snapshot in try await store.db.read({ try await store.snapshots(volumeID: volumeID, in: $0) }) {
                    try await driver.deleteSnapshot(snapshot.id)
                    try await store.db.transaction { try await store.deleteSnapshot(snapshot.id, in: $0) }
                }
                try await driver.delete(volumeID)
            } catch {
                logger.error("volume delete failed", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
                try await store.editVolume(volumeID) { $0.status = "error_deleting" }
                return
            }
            try await store.db.transaction { try await store.deleteVolume(volumeID, in: $0) }
        }
    }

    func extend(_ volumeID: String, to size: Int, settleTo status: String) {
        start("extending volume \(volumeID)") { [self] in
            do {
                try await driver.extend(volumeID, sizeGB: size)
            } catch {
                logger.error("volume extend failed", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
                try await store.editVolume(volumeID) { v in
                    v.status = "error_extending"
                    v.extendingTo = nil
                }
                return
            }
            try await store.editVolume(volumeID) { v in
                v.size = size
                v.status = status
                v.extendingTo = nil
            }
        }
    }

    /// Streams the volume into the queued image; a failure removes the image. The volume rests
    /// afterwards by what is attached then (a forced upload's server may have let it go meanwhile).
    func upload(_ volumeID: String, image imageID: String, format: String) {
        start("uploading volume \(volumeID)") { [self] in
            do {
                try await images.finishSnapshot(id: imageID, data: try await driver.read(volumeID, format: format), diskFormat: format)
            } catch {
                logger.error("volume upload failed", metadata: ["volume": "\(volumeID)", "image": "\(imageID)", "error": "\(error)"])
                try? await images.deleteImage(id: imageID)
            }
            try await store.editVolume(volumeID) { v in if v.status == "uploading" { v.status = v.restingStatus } }
        }
    }

    // MARK: Snapshots

    func createSnapshot(_ snapshot: Snapshot) {
        start("creating snapshot \(snapshot.id)") { [self] in
            do {
                try await driver.createSnapshot(snapshot.id, of: snapshot.volumeID)
            } catch {
                logger.error("snapshot create failed", metadata: ["snapshot": "\(snapshot.id)", "error": "\(error)"])
                try? await driver.deleteSnapshot(snapshot.id)
                try await store.editSnapshot(snapshot.id) { $0.status = "error" }
                return
            }
            if try await store.editSnapshot(snapshot.id, { $0.status = "available" }) == nil { try await driver.deleteSnapshot(snapshot.id) }
        }
    }

    func deleteSnapshot(_ snapshotID: String) {
        start("deleting snapshot \(snapshotID)") { [self] in
            do {
                try await driver.deleteSnapshot(snapshotID)
            } catch {
                logger.error("snapshot delete failed", metadata: ["snapshot": "\(snapshotID)", "error": "\(error)"])
                try await store.editSnapshot(snapshotID) { $0.status = "error_deleting" }
                return
            }
            try await store.db.transaction { try await store.deleteSnapshot(snapshotID, in: $0) }
        }
    }

    // MARK: After a restart

    /// Ends the steps a crash cut off: a half-made volume or snapshot becomes `error` (its partial
    /// bytes removed), a delete runs again, an extend is `error_extending`, an attach that never
    /// completed is released, an upload cut off gives the volume back (its image stays queued).
    func recover() async throws {
        for volume in try await store.volumes(status: ["creating", "deleting", "extending", "attaching", "detaching", "uploading"]) {
            switch volume.status {
            case "creating":
                try? await driver.delete(volume.id)
                try await store.editVolume(volume.id) { $0.status = "error" }
            case "deleting":
                delete(volume.id)
            case "extending":
                try await store.editVolume(volume.id) { v in
                    v.status = "error_extending"
                    v.extendingTo = nil
                }
            default:
                try await store.editVolume(volume.id) { v in
                    v.attachments.removeAll { $0.status != "attached" }
                    v.status = v.restingStatus
                }
            }
        }
        for snapshot in try await store.snapshots(status: ["creating", "deleting"]) {
            if snapshot.status == "deleting" {
                deleteSnapshot(snapshot.id)
            } else {
                try? await driver.deleteSnapshot(snapshot.id)
                try await store.editSnapshot(snapshot.id) { $0.status = "error" }
            }
        }
    }
}
