import Foundation

/// A copy of a volume's bytes in the object store, with what a restore gives back besides the
/// bytes (metadata, bootable, image attributes). The chunk list lives here, not only in the
/// object store, so a restore trusts no object the project could rewrite: each chunk is checked
/// against its SHA-256.
struct Backup: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var userID: String
    var volumeID: String
    var snapshotID: String?
    var name: String?
    var description: String?
    /// The object-store container, in the account of `objectProjectID`.
    var container: String
    var status: String
    var failReason: String?
    var size: Int
    var availabilityZone: String
    /// The backup this one adds to; nil for a full backup.
    var parentID: String?
    var metadata: [String: String] = [:]
    var createdAt: Double
    var updatedAt: Double?
    /// When the bytes were taken (the snapshot's time for a backup of a snapshot).
    var dataTimestamp: Double
    /// Whose account keeps the objects (the creator's; an import keeps the exported one).
    var objectProjectID: String
    /// Every object this backup wrote starts with this; its chunks are `<prefix>-00001`, ….
    var objectPrefix: String
    /// The volume's bytes in order, as chunks; each names the object holding it (this backup's or a parent's).
    var chunks: [BackupChunk] = []
    /// What a restore gives the volume besides its bytes.
    var volumeState = SavedVolumeState()

    var isIncremental: Bool { parentID != nil }
    /// How many objects this backup wrote (chunks taken over from a parent are the parent's).
    var objectCount: Int { chunks.filter { $0.object?.hasPrefix(objectPrefix) == true }.count }

    static let statuses: Set<String> = ["creating", "available", "deleting", "error", "restoring", "error_deleting"]
}

/// A stretch of the volume: all zeros (no object), or the object holding it.
struct BackupChunk: Codable, Sendable, Equatable {
    var object: String?
    var length: Int
    /// Hex SHA-256 of the stretch, also of a zero one (incremental backups compare these).
    var sha256: String
}

struct SavedVolumeState: Codable, Sendable, Equatable {
    var metadata: [String: String] = [:]
    var bootable = false
    var imageMetadata: [String: String]?
}
