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
    let backups: BackupEngine
    let servers: ServerVolumeEventsReference
    let logger: Logger
    private let running = Mutex<[Int: Task<Void, Never>]>([:])
    private let reimages = Mutex<[String: Task<Bool, any Error>]>([:])
    private let nextTicket = Atomic<Int>(0)

    init(store: BlockStorageStore, driver: any VolumeDriver, images: any ImageCatalog, backups: BackupEngine,
         servers: ServerVolumeEventsReference, logger: Logger) {
        self.store = store
        self.driver = driver
        self.images = images
        self.backups = backups
        self.servers = servers
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

    /// Leaves the project a user message about a step that failed; a message that cannot be
    /// recorded is logged, and the step's own outcome stands.
    func report(_ event: UserMessage.Event, projectID: String, resourceID: String?) async {
        do {
            try await store.report(event, projectID: projectID, resourceID: resourceID)
        } catch {
            logger.error("user message not recorded", metadata: ["event": "\(event.id)", "error": "\(error)"])
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
                await report(.volumeCreateFailed, projectID: volume.projectID, resourceID: volume.id)
                return
            }
            let kept = try await store.editVolume(volume.id) { $0.status = "available" }
            // Deleted (force) while it was being made: its bytes go too.
            if kept == nil { try await driver.delete(volume.id) }
        }
    }

    /// Takes the backend's volume over under the new volume's ID; `error_managing` when the driver refuses.
    func manage(_ volumeID: String, from name: String) {
        start("managing volume \(volumeID)") { [self] in
            let status: String
            do {
                try await driver.manage(name, as: volumeID)
                status = "available"
            } catch {
                logger.error("volume manage failed", metadata: ["volume": "\(volumeID)", "source": "\(name)", "error": "\(error)"])
                status = "error_managing"
            }
            let kept = try await store.editVolume(volumeID) { v in
                v.status = status
                v.managing = nil
            }
            // Deleted (force) meanwhile: what was taken over goes too.
            if kept == nil, status == "available" { try await driver.delete(volumeID) }
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

    /// Grows the volume; an attached one (3.42) grows in its server first, whose hypervisor may
    /// hold the volume's file and grow it itself, then the driver grows what no server did.
    func extend(_ volumeID: String, to size: Int, inServers serverIDs: [String] = [], requestedBy requester: Requester? = nil) {
        start("extending volume \(volumeID)") { [self] in
            do {
                for serverID in serverIDs {
                    guard let events = servers.value, let requester else { throw DriverError.failed("Compute is not there to grow the disk") }
                    try await events.volumeExtended(volumeID: volumeID, serverID: serverID, sizeGB: size, requestedBy: requester)
                }
                try await driver.extend(volumeID, sizeGB: size)
            } catch {
                logger.error("volume extend failed", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
                let failed = try await store.editVolume(volumeID) { v in
                    v.status = "error_extending"
                    v.extendingTo = nil
                }
                if let failed { await report(.extendFailed, projectID: failed.projectID, resourceID: volumeID) }
                return
            }
            // `in-use` only while something is still attached: a detach may have ended during the extend.
            try await store.editVolume(volumeID) { v in
                v.size = size
                v.status = v.restingStatus
                v.extendingTo = nil
            }
        }
    }

    /// Writes an image (or the snapshot a Compute image stands for) over the volume, which keeps its
    /// size; the volume then has the image's metadata and the status it had before, or is `error`.
    func reimage(_ volumeID: String, _ job: Volume.Reimaging) {
        start("re-imaging volume \(volumeID)") { [self] in _ = try await runReimage(volumeID, job) }
    }

    /// The re-image itself, awaited (Compute's rebuild waits for it); whether it succeeded. One runs
    /// per volume at a time: a second call (a rebuild run again while a restart's recovery
    /// finishes it) waits for the one running.
    func runReimage(_ volumeID: String, _ job: Volume.Reimaging) async throws -> Bool {
        let task = reimages.withLock { running in
            if let task = running[volumeID] { return task }
            let task = Task { try await self.reimageOnce(volumeID, job) }
            running[volumeID] = task
            return task
        }
        defer { reimages.withLock { running in if running[volumeID] == task { running[volumeID] = nil } } }
        return try await task.value
    }

    private func reimageOnce(_ volumeID: String, _ job: Volume.Reimaging) async throws -> Bool {
        do {
            try await driver.reimage(volumeID, from: job.source)
        } catch {
            logger.error("volume re-image failed", metadata: ["volume": "\(volumeID)", "error": "\(error)"])
            try await store.editVolume(volumeID) { v in
                guard v.status == "downloading" else { return }
                v.status = "error"
                v.reimaging = nil
            }
            return false
        }
        let kept = try await store.editVolume(volumeID) { v in
            guard v.status == "downloading" else { return }
            // Back to the status it had; `in-use` or `available` as what is attached now says.
            v.status = ["in-use", "available"].contains(job.previousStatus) ? v.restingStatus : job.previousStatus
            (v.imageMetadata, v.bootable) = (job.imageMetadata, true)
            v.reimaging = nil
        }
        // Deleted (force) meanwhile: the bytes just written go too.
        if kept == nil { try await driver.delete(volumeID) }
        return kept != nil
    }

    /// Gives the volume its latest snapshot's bytes: both `available` after, the volume `error`
    /// when the driver fails.
    func revert(_ volumeID: String, to snapshotID: String) {
        start("reverting volume \(volumeID)") { [self] in
            let status: String
            do {
                try await driver.revert(volumeID, to: snapshotID)
                status = "available"
            } catch {
                logger.error("volume revert failed", metadata: ["volume": "\(volumeID)", "snapshot": "\(snapshotID)", "error": "\(error)"])
                status = "error"
            }
            try await store.db.transaction { db in
                if var v = try await store.volume(volumeID, in: db) {
                    v.status = status
                    try await store.update(v, in: db)
                }
                if var s = try await store.snapshot(snapshotID, in: db), s.status == "restoring" {
                    s.status = "available"
                    try await store.update(s, in: db)
                }
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

    // MARK: Backups

    /// Where a backup of a snapshot reads from: a volume made from the snapshot for the purpose.
    static func scratchVolume(for backup: Backup) -> String { "bk-\(backup.id)" }

    /// Copies the volume (or snapshot) into the object store; the volume or snapshot then rests
    /// as before, the backup is `available`, or `error` with the reason and no object left.
    func createBackup(_ backup: Backup, parent: Backup?) {
        start("backing up volume \(backup.volumeID)") { [self] in
            var source = backup.volumeID
            do {
                if let snapshotID = backup.snapshotID {
                    source = Self.scratchVolume(for: backup)
                    try await driver.create(VolumeSpec(id: source, sizeGB: backup.size, source: .snapshot(snapshotID)))
                }
                let chunks = try await backups.write(backup, volumeID: source, parent: parent)
                let kept = try await store.editBackup(backup.id) { b in
                    b.chunks = chunks
                    b.status = "available"
                }
                // Deleted (force) while it was being made: its objects go too.
                if kept == nil { await backups.deleteObjects(chunks.compactMap(\.object), of: backup) }
            } catch {
                logger.error("backup failed", metadata: ["backup": "\(backup.id)", "error": "\(error)"])
                try await store.editBackup(backup.id) { b in
                    b.status = "error"
                    b.failReason = "\(error)"
                }
                await report(.backupFailed, projectID: backup.projectID, resourceID: backup.id)
            }
            try await endBackup(backup, scratch: source != backup.volumeID ? source : nil)
        }
    }

    /// Gives the volume or snapshot a backup was taken of back its resting status.
    private func endBackup(_ backup: Backup, scratch: String?) async throws {
        if let scratch { try? await driver.delete(scratch) }
        if let snapshotID = backup.snapshotID {
            try await store.editSnapshot(snapshotID) { s in if s.status == "backing-up" { s.status = "available" } }
        } else {
            try await store.editVolume(backup.volumeID) { v in if v.status == "backing-up" { v.status = v.restingStatus } }
        }
    }

    /// Writes the backup into the volume (made first, blank, when the restore asked for a new one);
    /// the volume takes the backed-up volume's metadata and bootable flag. A failure leaves the
    /// volume `error_restoring` (`error` when it was being made) and the backup `available`.
    func restoreBackup(_ backup: Backup, into volume: Volume, makesVolume: Bool) {
        start("restoring backup \(backup.id)") { [self] in
            do {
                if makesVolume { try await driver.create(VolumeSpec(id: volume.id, sizeGB: volume.size)) }
                try await backups.restore(backup, into: volume.id)
                try await store.editVolume(volume.id) { v in
                    v.status = "available"
                    v.bootable = backup.volumeState.bootable
                    v.metadata.merge(backup.volumeState.metadata) { mine, _ in mine }
                    if let image = backup.volumeState.imageMetadata { v.imageMetadata = image }
                }
            } catch {
                logger.error("restore failed", metadata: ["backup": "\(backup.id)", "volume": "\(volume.id)", "error": "\(error)"])
                try await store.editVolume(volume.id) { $0.status = makesVolume ? "error" : "error_restoring" }
                await report(.restoreFailed, projectID: volume.projectID, resourceID: volume.id)
            }
            try await store.editBackup(backup.id) { b in if b.status == "restoring" { b.status = "available" } }
        }
    }

    /// Removes the objects no other backup points at, then the record.
    func deleteBackup(_ backupID: String) {
        start("deleting backup \(backupID)") { [self] in
            guard let backup = try await store.backup(backupID) else { return }
            // An incremental backup points at its parent's objects; an imported record at the exported one's.
            let others = try await store.db.read { try await store.backups(projectID: nil, in: $0) }
                .filter { $0.id != backupID && $0.objectProjectID == backup.objectProjectID && $0.container == backup.container }
            let shared = Set(others.flatMap { $0.chunks.compactMap(\.object) })
            await backups.deleteObjects(backup.chunks.compactMap(\.object).filter { !shared.contains($0) }, of: backup)
            try await store.db.transaction { try await store.deleteBackup(backupID, in: $0) }
        }
    }

    // MARK: After a restart

    /// Ends the steps a crash cut off: a half-made volume or snapshot becomes `error` (its partial
    /// bytes removed), a delete, revert or re-image runs again, an extend is `error_extending`, an attach that never
    /// completed is released, an upload cut off gives the volume back (its image stays queued).
    func recover() async throws {
        for volume in try await store.volumes(status: ["creating", "deleting", "extending", "attaching", "detaching", "uploading", "backing-up",
                                                       "restoring-backup", "reverting", "downloading", "managing"]) {
            switch volume.status {
            case "managing":
                // The driver's manage is one rename: running it again finishes it.
                if let name = volume.managing { manage(volume.id, from: name) } else { try await store.editVolume(volume.id) { $0.status = "error_managing" } }
            case "downloading":
                // The driver's re-image renames its result over the volume at the end: running it again finishes it.
                if let job = volume.reimaging { reimage(volume.id, job) } else { try await store.editVolume(volume.id) { $0.status = "error" } }
            case "reverting":
                // The driver's revert replaces the bytes at once: running it again finishes it.
                let restoring = try await store.db.read { try await store.snapshots(volumeID: volume.id, in: $0) }.first { $0.status == "restoring" }
                if let restoring { revert(volume.id, to: restoring.id) } else { try await store.editVolume(volume.id) { $0.status = "error" } }
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
            case "restoring-backup":
                try await store.editVolume(volume.id) { $0.status = "error_restoring" }
            default:
                try await store.editVolume(volume.id) { v in
                    v.attachments.removeAll { $0.status != "attached" }
                    v.status = v.restingStatus
                }
            }
        }
        for snapshot in try await store.snapshots(status: ["creating", "deleting", "restoring"]) {
            if snapshot.status == "deleting" {
                deleteSnapshot(snapshot.id)
            } else if snapshot.status == "restoring" {
                // A revert that is not running again (its volume is no longer `reverting`) is over.
                if try await store.volume(snapshot.volumeID)?.status != "reverting" {
                    try await store.editSnapshot(snapshot.id) { s in if s.status == "restoring" { s.status = "available" } }
                }
            } else {
                try? await driver.deleteSnapshot(snapshot.id)
                try await store.editSnapshot(snapshot.id) { $0.status = "error" }
            }
        }
        try await recoverBackups()
    }

    /// A backup cut off is `error` with whatever objects it had written removed (their names are
    /// known from its size); a delete runs again; a restore gives the backup back.
    private func recoverBackups() async throws {
        for backup in try await store.backups(status: ["creating", "deleting", "restoring"]) {
            switch backup.status {
            case "creating":
                let count = (backup.size << 30 + BackupEngine.chunkSize - 1) / BackupEngine.chunkSize
                await backups.deleteObjects((0..<count).map { BackupEngine.objectName(backup, index: $0) }, of: backup)
                try? await driver.delete(Self.scratchVolume(for: backup))
                try await store.editBackup(backup.id) { b in
                    b.status = "error"
                    b.failReason = "The backup was cut off by a restart."
                }
                if let snapshotID = backup.snapshotID {
                    try await store.editSnapshot(snapshotID) { s in if s.status == "backing-up" { s.status = "available" } }
                }
            case "deleting":
                deleteBackup(backup.id)
            default:
                try await store.editBackup(backup.id) { $0.status = "available" }
            }
        }
    }
}
