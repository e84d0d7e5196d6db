import MartletCore
import SQLKit

/// Per-project limits on volumes, gigabytes and snapshots, checked in the transaction that makes
/// the resource while the project's row is locked, so concurrent creates cannot overshoot.
struct VolumeQuotas: Sendable {
    /// Cinder's defaults; -1 is unlimited.
    static let defaults: [String: Int] = [
        "volumes": 10, "gigabytes": 1000, "snapshots": 10, "backups": 10, "backup_gigabytes": 1000, "groups": 10,
        "per_volume_gigabytes": -1,
    ]

    /// What the project holds now.
    func usage(projectID: String, store: BlockStorageStore, in db: any SQLDatabase) async throws -> [String: Int] {
        let volumes = try await store.volumes(projectID: projectID, in: db)
        let snapshots = try await store.snapshots(projectID: projectID, in: db)
        let backups = try await store.backups(projectID: projectID, in: db)
        let groups: [VolumeGroup] = try await store.groupDocs(.groups, projectID: projectID, in: db)
        var use: [String: Int] = [
            "volumes": volumes.count, "snapshots": snapshots.count,
            // An extend counts its target from the moment it is accepted.
            "gigabytes": volumes.reduce(0) { $0 + max($1.size, $1.extendingTo ?? 0) } + snapshots.reduce(0) { $0 + $1.size },
            "backups": backups.count, "backup_gigabytes": backups.reduce(0) { $0 + $1.size }, "groups": groups.count, "per_volume_gigabytes": 0,
        ]
        let types = try await store.types(in: db)
        let names = Dictionary(uniqueKeysWithValues: types.map { ($0.id, $0.name) })
        for type in types {
            use["volumes_\(type.name)"] = 0
            use["gigabytes_\(type.name)"] = 0
            use["snapshots_\(type.name)"] = 0
        }
        for volume in volumes {
            guard let name = names[volume.typeID] else { continue }
            use["volumes_\(name)", default: 0] += 1
            use["gigabytes_\(name)", default: 0] += max(volume.size, volume.extendingTo ?? 0)
        }
        return use
    }

    /// Where the `default` quota class keeps what an admin changed of the defaults.
    static let defaultClass = "class:default"

    /// The defaults: Cinder's, per-type entries unlimited, overridden by the default class.
    func defaults(store: BlockStorageStore, in db: any SQLDatabase) async throws -> [String: Int] {
        var limits = Self.defaults
        for type in try await store.types(in: db) {
            for resource in ["volumes", "gigabytes", "snapshots"] { limits["\(resource)_\(type.name)"] = -1 }
        }
        limits.merge(try await store.quotas(projectID: Self.defaultClass, in: db)) { _, set in set }
        return limits
    }

    /// The project's limits: the defaults overridden by what was set for it.
    func limits(projectID: String, store: BlockStorageStore, in db: any SQLDatabase) async throws -> [String: Int] {
        try await defaults(store: store, in: db).merging(try await store.quotas(projectID: projectID, in: db)) { _, set in set }
    }

    /// Refuses (413, as Cinder) a create that would take the project over a limit. The caller holds the project's lock.
    /// `perVolume`: `gigabytes` is one new volume's size, held to `per_volume_gigabytes`.
    /// `typedOnly`: only the type's own limits (a retype moves a volume the project already counts).
    func check(projectID: String, volumes: Int = 0, snapshots: Int = 0, gigabytes: Int, typeName: String?, perVolume: Bool = true,
               typedOnly: Bool = false, store: BlockStorageStore, in db: any SQLDatabase) async throws {
        let limits = try await limits(projectID: projectID, store: store, in: db)
        let use = try await usage(projectID: projectID, store: store, in: db)
        if volumes > 0, perVolume, let limit = limits["per_volume_gigabytes"], limit >= 0, gigabytes > limit {
            throw APIError(.contentTooLarge, "VolumeSizeExceedsLimit: Requested volume size \(gigabytes)G is larger than maximum allowed limit \(limit)G.")
        }
        func over(_ resource: String, _ asked: Int) -> (limit: Int, used: Int)? {
            guard asked > 0, let limit = limits[resource], limit >= 0, (use[resource] ?? 0) + asked > limit else { return nil }
            return (limit, use[resource] ?? 0)
        }
        let typed = typeName.map { ["volumes_\($0)": volumes, "snapshots_\($0)": snapshots, "gigabytes_\($0)": gigabytes] } ?? [:]
        for (resource, asked) in (typedOnly ? [] : [("gigabytes", gigabytes)]) + typed.filter({ $0.key.hasPrefix("gigabytes") }).map({ ($0.key, $0.value) }) {
            if let (limit, used) = over(resource, asked) {
                let what = volumes > 0 ? "VolumeSizeExceedsAvailableQuota" : "SnapshotSizeExceedsAvailableQuota"
                throw APIError(.contentTooLarge, "\(what): Requested volume or snapshot exceeds allowed \(resource) quota. "
                               + "Requested \(asked)G, quota is \(limit)G and \(used)G has been consumed.")
            }
        }
        for (resource, asked) in (typedOnly ? [] : [("volumes", volumes), ("snapshots", snapshots)])
            + typed.filter({ !$0.key.hasPrefix("gigabytes") }).map({ ($0.key, $0.value) }) {
            if let (limit, _) = over(resource, asked) {
                let what = resource.hasPrefix("volumes") ? "VolumeLimitExceeded" : "SnapshotLimitExceeded"
                let noun = resource.hasPrefix("volumes") ? "volumes" : "snapshots"
                throw APIError(.contentTooLarge, "\(what): Maximum number of \(noun) allowed (\(limit)) exceeded for quota '\(resource)'.")
            }
        }
    }

    /// Refuses (413) a backup the project has no room for. The caller holds the project's lock.
    func checkBackup(projectID: String, gigabytes: Int, store: BlockStorageStore, in db: any SQLDatabase) async throws {
        let limits = try await limits(projectID: projectID, store: store, in: db)
        let use = try await usage(projectID: projectID, store: store, in: db)
        if let limit = limits["backups"], limit >= 0, (use["backups"] ?? 0) + 1 > limit {
            throw APIError(.contentTooLarge, "BackupLimitExceeded: Maximum number of backups allowed (\(limit)) exceeded.")
        }
        if let limit = limits["backup_gigabytes"], limit >= 0, (use["backup_gigabytes"] ?? 0) + gigabytes > limit {
            throw APIError(.contentTooLarge, "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. "
                           + "Requested \(gigabytes)G, quota is \(limit)G and \(use["backup_gigabytes"] ?? 0)G has been consumed.")
        }
    }

    /// Refuses (413) a group the project has no room for.
    func checkGroup(projectID: String, store: BlockStorageStore, in db: any SQLDatabase) async throws {
        try await store.lockProject(projectID, in: db)
        let limits = try await limits(projectID: projectID, store: store, in: db)
        let use = try await usage(projectID: projectID, store: store, in: db)
        if let limit = limits["groups"], limit >= 0, (use["groups"] ?? 0) + 1 > limit {
            throw APIError(.contentTooLarge, "GroupLimitExceeded: Maximum number of groups allowed (\(limit)) exceeded.")
        }
    }
}
