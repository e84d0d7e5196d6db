import Foundation

/// A kind of generic volume group (3.11), with its specs.
struct GroupType: Codable, Sendable, Equatable {
    var id: String
    var name: String
    var description: String?
    var isPublic = true
    var groupSpecs: [String: String] = [:]
    var createdAt: Double

    /// The type Cinder makes at install, for groups that name none.
    static let defaultName = "default_group_type"
}

/// Volumes kept together (3.13): snapshotted together, copied together.
struct VolumeGroup: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var userID: String
    var name: String?
    var description: String?
    var status: String
    var groupTypeID: String
    var volumeTypeIDs: [String]
    var availabilityZone: String
    /// What it was made from (3.14).
    var groupSnapshotID: String?
    var sourceGroupID: String?
    var createdAt: Double
    var updatedAt: Double?

    static let statuses: Set<String> = ["creating", "available", "deleting", "error", "error_deleting", "updating"]
}

/// A snapshot of every volume of a group at once (3.14); its members are snapshots that name it.
struct GroupSnapshot: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var userID: String
    var groupID: String
    var groupTypeID: String
    var name: String?
    var description: String?
    /// Set by an admin's `reset_status` (3.19); otherwise the status is the members'.
    var resetStatus: String?
    var createdAt: Double
    var updatedAt: Double?

    static let statuses: Set<String> = ["creating", "available", "deleting", "error", "error_deleting"]
}
