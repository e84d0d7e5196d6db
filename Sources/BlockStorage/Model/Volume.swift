import Foundation
import DriverKit
import MartletCore

/// A volume as it is stored: written whole, its status and owner also kept in indexed columns.
struct Volume: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var userID: String
    var name: String?
    var description: String?
    var size: Int
    var status: String
    var availabilityZone: String
    var typeID: String
    var bootable = false
    var multiattach = false
    /// The read-only flag, once an update set it (Cinder shows it in the metadata from then on).
    var readonly: Bool?
    var sourceVolumeID: String?
    var snapshotID: String?
    /// `volume_image_metadata`: the image's attributes and properties when made from an image.
    var imageMetadata: [String: String]?
    var metadata: [String: String] = [:]
    var attachments: [VolumeAttachment] = []
    var migrationStatus: String?
    /// The generic group it belongs to (3.13).
    var groupID: String?
    var createdAt: Double
    var updatedAt: Double?

    /// Statuses a volume may be deleted in (Cinder's `delete` check, without `cascade`).
    static let deletable: Set<String> = ["available", "error", "error_restoring", "error_extending", "error_managing"]
    /// Every status `os-reset_status` accepts.
    static let statuses: Set<String> = [
        "creating", "available", "reserved", "attaching", "detaching", "in-use", "maintenance", "deleting", "awaiting-transfer",
        "error", "error_deleting", "backing-up", "restoring-backup", "error_backing-up", "error_restoring", "error_extending",
        "downloading", "uploading", "retyping", "extending", "reverting", "managing", "error_managing",
    ]

    /// While an extend runs, the size it grows to (quotas count it from the moment it is accepted).
    var extendingTo: Int?
    /// While the backend's volume of this name is being taken over (`managing`).
    var managing: String?
    /// While a re-image runs (3.68, `downloading`): what it writes and the status it ends in.
    var reimaging: Reimaging?

    struct Reimaging: Codable, Sendable, Equatable {
        var source: VolumeSpec.Source
        /// The new image's attributes, the volume's `volume_image_metadata` once it is written.
        var imageMetadata: [String: String]
        /// Cinder's `previous_status`: the volume goes back to it, even to `error`.
        var previousStatus: String
    }

    /// Starts a re-image: `downloading` until `job` is written, then back to the status it had.
    mutating func beginReimage(_ job: Reimaging) {
        reimaging = job
        reimaging?.previousStatus = status
        status = "downloading"
    }

    var attachStatus: String { attachments.isEmpty ? "detached" : "attached" }

    /// Where a volume rests once a step on it ends: `in-use` while something is attached, else `available`.
    var restingStatus: String { attachments.contains { $0.status == "attached" } ? "in-use" : "available" }

    /// Cinder's refusal to delete a volume in this state (`snapshots`: how many it has), nil when it may go.
    /// `force` (an admin's, from 3.23) takes a volume in any status that nothing is attached to.
    func deleteRefusal(snapshots: Int, cascade: Bool, force: Bool = false) -> APIError? {
        guard force || Self.deletable.contains(status), attachments.isEmpty, migrationStatus == nil else {
            return BlockStorageFault.invalidVolume("Volume status must be available or error or error_restoring or error_extending or error_managing "
                + "and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.")
        }
        if snapshots > 0 && !cascade { return BlockStorageFault.invalidVolume("Volume \(id) still has \(snapshots) dependent snapshots.") }
        return nil
    }
}

/// A volume's connection to a server, as Cinder's attachment record keeps it.
struct VolumeAttachment: Codable, Sendable, Equatable {
    var id: String
    var serverID: String?
    var hostName: String?
    var device: String?
    var attachedAt: Double?
    /// `reserved` until connected, then `attached`; through the attachments API (3.27), `attaching`
    /// once a host's connector is given, until `os-complete`.
    var status: String
    var mode = "rw"
    /// Made by Compute for one of its servers: only Compute may undo it (Cinder's answer to OSSA-2023-003).
    var byCompute: Bool?
    /// What the attachments API answered the host's connector with.
    var connection: VolumeConnection?
    var createdAt: Double?
}

struct Snapshot: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var userID: String
    var volumeID: String
    var name: String?
    var description: String?
    var size: Int
    var status: String
    var metadata: [String: String] = [:]
    var createdAt: Double
    var updatedAt: Double?
    /// What a driver last reported of its progress (`80%`); nil: 0% while creating, 100% once available.
    var progress: String?
    /// The group snapshot it is a member of (3.14).
    var groupSnapshotID: String?

    static let statuses: Set<String> = ["creating", "available", "deleting", "error", "error_deleting", "backing-up", "restoring"]
}

struct VolumeType: Codable, Sendable, Equatable {
    var id: String
    var name: String
    var description: String?
    var isPublic = true
    var extraSpecs: [String: String] = [:]
    /// Projects a private type is shared with.
    var projects: [String] = []
    /// The QoS specs associated with the type.
    var qosSpecsID: String?
    /// Its encryption specs, if an admin gave it some.
    var encryption: TypeEncryption?
    var createdAt: Double

    /// The type Cinder creates at install and gives volumes that name none.
    static let defaultName = "__DEFAULT__"

    /// No volume of an encrypted type is made: there is no key manager to keep its key.
    func refuseEncryption() throws {
        guard encryption == nil else {
            throw APIError.badRequest("Volume type \(name) is encrypted, and this cloud has no key manager to keep an encrypted volume's key.")
        }
    }

    /// Whether the type's volumes may be attached to several servers (`multiattach="<is> True"`).
    static func isMultiattach(_ extraSpecs: [String: String]) -> Bool { extraSpecs["multiattach"]?.lowercased() == "<is> true" }
}

/// A volume type's encryption specs (Cinder's volume type encryption). They are kept and shown;
/// no volume of an encrypted type is made, as this cloud has no key manager to hold its key.
struct TypeEncryption: Codable, Sendable, Equatable {
    var id: String
    var provider: String
    var controlLocation: String
    var cipher: String?
    var keySize: Int?
    var createdAt: Double
    var updatedAt: Double?
}

/// A named set of QoS limits, associated with volume types.
struct QoSSpecs: Codable, Sendable, Equatable {
    var id: String
    var name: String
    /// `front-end`, `back-end` or `both`.
    var consumer: String
    var specs: [String: String]

    static let consumers: Set<String> = ["front-end", "back-end", "both"]
}

/// A volume offered to another project: whoever presents the key takes it.
struct VolumeTransfer: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var volumeID: String
    var name: String?
    /// SHA-256 of a per-transfer salt and the key; the key itself is shown once.
    var salt: String
    var keyHash: String
    var createdAt: Double
    /// 3.55: the volume goes without its snapshots, which stay with the project that had them.
    var noSnapshots: Bool? = nil
}

/// An admin's view of a service: enabled or not, and why.
struct ServiceState: Codable, Sendable, Equatable {
    var binary: String
    var host: String
    var disabled = false
    var disabledReason: String?
    var frozen = false
    var updatedAt: Double
}
