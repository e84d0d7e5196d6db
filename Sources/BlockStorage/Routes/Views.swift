import Foundation
import MartletCore

/// Volumes, snapshots and types as Cinder's views render them.
struct Views {
    let service: BlockStorageService

    static func time(_ t: Double?) -> JSON {
        guard let t else { return .null }
        // Cinder's `2026-11-23T06:12:12.000000`.
        return .string(Timestamp.microseconds(Date(timeIntervalSince1970: t), zone: false))
    }

    static func strings(_ d: [String: String]) -> JSON { .object(d.mapValues { .string($0) }) }

    func summary(_ v: Volume) -> JSON {
        ["id": .string(v.id), "name": JSON(v.name), "links": service.link("volumes", v.id)]
    }

    /// A volume; `detailed` adds what Cinder's show and detail list add to a create's or update's
    /// answer (the owner, the image's metadata, and for admins the host and migration).
    /// `version` adds what later microversions show (`group_id` from 3.13).
    func volume(_ v: Volume, typeName: String?, admin: Bool, detailed: Bool = true, version: Microversion = Microversion(3, 0)) -> JSON {
        var b: [String: JSON] = [
            "id": .string(v.id), "name": JSON(v.name), "description": JSON(v.description), "status": .string(v.status),
            "size": JSON(v.size), "availability_zone": .string(v.availabilityZone), "created_at": Self.time(v.createdAt),
            "updated_at": Self.time(v.updatedAt), "volume_type": JSON(typeName), "snapshot_id": JSON(v.snapshotID),
            "source_volid": JSON(v.sourceVolumeID), "metadata": Self.strings(v.metadata.merging(v.readonly.map { ["readonly": $0 ? "True" : "False"] } ?? [:]) { a, _ in a }),
            "links": service.link("volumes", v.id), "user_id": .string(v.userID), "bootable": .string(v.bootable ? "true" : "false"),
            "encrypted": false, "replication_status": .null, "consistencygroup_id": .null, "multiattach": .bool(v.multiattach),
            "migration_status": JSON(v.migrationStatus),
            "attachments": .array(v.attachments.filter { $0.status == "attached" }.map { a in
                ["id": .string(v.id), "attachment_id": .string(a.id), "volume_id": .string(v.id), "server_id": JSON(a.serverID),
                 "host_name": JSON(a.hostName), "device": JSON(a.device), "attached_at": Self.time(a.attachedAt)]
            }),
        ]
        if version >= Microversion(3, 13) { b["group_id"] = JSON(v.groupID) }
        if version >= Microversion(3, 63) { b["volume_type_id"] = .string(v.typeID) }
        // Every volume with a record counts against its project's quota: the driver's scratch volumes have none.
        if version >= Microversion(3, 65) { b["consumes_quota"] = true }
        // 3.64's `encryption_key_id` is left out, as Cinder leaves it out for a volume that is not encrypted.
        guard detailed else { return .object(b) }
        b["os-vol-tenant-attr:tenant_id"] = .string(v.projectID)
        if let image = v.imageMetadata { b["volume_image_metadata"] = Self.strings(image) }
        if version >= Microversion(3, 48) {
            // The file driver's targets are files on this host, shared with no one.
            b["shared_targets"] = false
            b["service_uuid"] = .string(service.volumeServiceUUID)
        }
        if admin {
            b["os-vol-host-attr:host"] = .string(service.backendHost)
            b["os-vol-mig-status-attr:migstat"] = JSON(v.migrationStatus)
            b["os-vol-mig-status-attr:name_id"] = .null
            // The backend's own name for the volume: a file driver's is its ID, so it has none.
            if version >= Microversion(3, 21) { b["provider_id"] = .null }
            // One volume service, in no cluster (Cinder's active-active clusters).
            if version >= Microversion(3, 61) { b["cluster_name"] = .null }
        }
        return .object(b)
    }

    /// A snapshot; `detailed` (show, detail list) adds its progress and project; `listed` is the
    /// summary list's entry, which lacks what 3.65 adds to every other answer.
    func snapshot(_ s: Snapshot, detailed: Bool, listed: Bool = false, version: Microversion = Microversion(3, 0)) -> JSON {
        var b: [String: JSON] = [
            "id": .string(s.id), "name": JSON(s.name), "description": JSON(s.description), "volume_id": .string(s.volumeID),
            "status": .string(s.status), "size": JSON(s.size), "created_at": Self.time(s.createdAt), "updated_at": Self.time(s.updatedAt),
            "metadata": Self.strings(s.metadata),
        ]
        if version >= Microversion(3, 14) { b["group_snapshot_id"] = JSON(s.groupSnapshotID) }
        if version >= Microversion(3, 65), detailed || !listed { b["consumes_quota"] = true }
        if detailed {
            if version >= Microversion(3, 41) { b["user_id"] = .string(s.userID) }
            b["os-extended-snapshot-attributes:progress"] = .string(s.progress ?? (s.status == "available" ? "100%" : "0%"))
            b["os-extended-snapshot-attributes:project_id"] = .string(s.projectID)
        }
        return .object(b)
    }

    /// A backup: a create's, import's and summary list's answer name it; show and detail describe it.
    /// `version` 3.18 adds the owning project.
    func backup(_ b: Backup, detailed: Bool = false, hasDependents: Bool = false, version: Microversion = Microversion(3, 0)) -> JSON {
        guard detailed else { return ["id": .string(b.id), "name": JSON(b.name), "links": service.link("backups", b.id)] }
        var body: [String: JSON] = [
            "id": .string(b.id), "name": JSON(b.name), "description": JSON(b.description), "links": service.link("backups", b.id),
            "status": .string(b.status), "fail_reason": JSON(b.failReason), "size": JSON(b.size), "object_count": JSON(b.objectCount),
            "availability_zone": .string(b.availabilityZone), "container": .string(b.container), "volume_id": .string(b.volumeID),
            "snapshot_id": JSON(b.snapshotID), "is_incremental": .bool(b.isIncremental), "has_dependent_backups": .bool(hasDependents),
            "created_at": Self.time(b.createdAt), "updated_at": Self.time(b.updatedAt), "data_timestamp": Self.time(b.dataTimestamp),
        ]
        if version >= Microversion(3, 18) { body["os-backup-project-attr:project_id"] = .string(b.projectID) }
        if version >= Microversion(3, 43) { body["metadata"] = Self.strings(b.metadata) }
        if version >= Microversion(3, 56) { body["user_id"] = .string(b.userID) }
        return .object(body)
    }

    /// A type; an update's answer has no access attribute and no QoS link, as Cinder's.
    func type(_ t: VolumeType, updated: Bool = false) -> JSON {
        var b: [String: JSON] = ["id": .string(t.id), "name": .string(t.name), "description": JSON(t.description), "is_public": .bool(t.isPublic),
                                 "extra_specs": Self.strings(t.extraSpecs)]
        if !updated { b["os-volume-type-access:is_public"] = .bool(t.isPublic) }
        if !updated, let qos = t.qosSpecsID { b["qos_specs_id"] = .string(qos) }
        return .object(b)
    }
}
