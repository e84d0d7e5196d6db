import Foundation
import MartletCore

/// `/os-quota-sets`, `/os-quota-class-sets` and `/limits`.
struct QuotaRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }
    var quotas: VolumeQuotas { service.quotas }

    func register(_ r: PolicyRouter) {
        r.get("/v3/os-quota-sets/:project_id", rule: "volume_extension:quotas:show") { call in
            let project = try call.param("project_id")
            let usage = ["1", "true", "True"].contains(call.query("usage") ?? "")
            let (limits, use) = try await store.db.read { db in
                (try await quotas.limits(projectID: project, store: store, in: db), try await quotas.usage(projectID: project, store: store, in: db))
            }
            var set: [String: JSON] = ["id": .string(project)]
            for (resource, limit) in limits {
                set[resource] = usage ? ["limit": JSON(limit), "in_use": JSON(use[resource] ?? 0), "reserved": 0, "allocated": 0] : JSON(limit)
            }
            return .json(.ok, ["quota_set": .object(set)])
        }
        r.get("/v3/os-quota-sets/:project_id/defaults", rule: "volume_extension:quotas:show") { call in
            let project = try call.param("project_id")
            let limits = try await store.db.read { try await quotas.defaults(store: store, in: $0) }
            return .json(.ok, ["quota_set": .object(limits.mapValues { JSON($0) }.merging(["id": .string(project)]) { a, _ in a })])
        }
        r.put("/v3/os-quota-sets/:project_id", rule: "volume_extension:quotas:update") { call in
            let project = try call.param("project_id")
            let values = try requested(try await call.body(), wrapper: "quota_set")
            let limits = try await store.db.transaction { db in
                try await store.lockProject(project, in: db)
                let known = try await quotas.limits(projectID: project, store: store, in: db)
                let use = try await quotas.usage(projectID: project, store: store, in: db)
                for (resource, limit) in values {
                    guard known[resource] != nil else { throw APIError.badRequest("Bad key(s) in quota set: \(resource)") }
                    if limit >= 0, resource != "per_volume_gigabytes", let used = use[resource], limit < used {
                        throw BlockStorageFault.invalidInput("Quota limit \(limit) for \(resource) must be equal or greater than existing resources. Current usage is \(used).")
                    }
                    try await store.setQuota(projectID: project, resource: resource, limit: limit, in: db)
                }
                return try await quotas.limits(projectID: project, store: store, in: db)
            }
            return .json(.ok, ["quota_set": .object(limits.mapValues { JSON($0) })])
        }
        r.delete("/v3/os-quota-sets/:project_id", rule: "volume_extension:quotas:delete") { call in
            let project = try call.param("project_id")
            try await store.db.transaction { try await store.clearQuotas(projectID: project, in: $0) }
            return .empty(.ok)
        }
        r.get("/v3/os-quota-class-sets/:class_name", rule: "volume_extension:quota_classes") { call in
            let name = try call.param("class_name")
            let limits = try await store.db.read { try await quotas.defaults(store: store, in: $0) }
            return .json(.ok, ["quota_class_set": .object(limits.mapValues { JSON($0) }.merging(["id": .string(name)]) { a, _ in a })])
        }
        r.put("/v3/os-quota-class-sets/:class_name", rule: "volume_extension:quota_classes") { call in
            guard try call.param("class_name") == "default" else { throw BlockStorageFault.invalidInput("Only the 'default' quota class can be changed.") }
            let values = try requested(try await call.body(), wrapper: "quota_class_set")
            let limits = try await store.db.transaction { db in
                let known = try await quotas.defaults(store: store, in: db)
                for (resource, limit) in values {
                    guard known[resource] != nil else { throw APIError.badRequest("Bad key(s) in quota class set: \(resource)") }
                    try await store.setQuota(projectID: VolumeQuotas.defaultClass, resource: resource, limit: limit, in: db)
                }
                return try await quotas.defaults(store: store, in: db)
            }
            return .json(.ok, ["quota_class_set": .object(limits.mapValues { JSON($0) })])
        }
        r.get("/v3/limits", rule: "limits_extension:used_limits") { call in
            // 3.39: an admin may ask for another project's (`project_id`, or the older `tenant_id`).
            let asked = call.isAdmin && call.requestedVersion >= Microversion(3, 39) ? call.query("project_id") ?? call.query("tenant_id") : nil
            guard let project = asked ?? call.auth.projectID else { throw APIError.badRequest("Limits are a project's: use a project-scoped token.") }
            let (limits, use) = try await store.db.read { db in
                (try await quotas.limits(projectID: project, store: store, in: db), try await quotas.usage(projectID: project, store: store, in: db))
            }
            let absolute: [String: JSON] = [
                "maxTotalVolumes": JSON(limits["volumes"] ?? -1), "maxTotalSnapshots": JSON(limits["snapshots"] ?? -1),
                "maxTotalVolumeGigabytes": JSON(limits["gigabytes"] ?? -1), "maxTotalBackups": JSON(limits["backups"] ?? -1),
                "maxTotalBackupGigabytes": JSON(limits["backup_gigabytes"] ?? -1),
                "totalVolumesUsed": JSON(use["volumes"] ?? 0), "totalSnapshotsUsed": JSON(use["snapshots"] ?? 0),
                "totalGigabytesUsed": JSON(use["gigabytes"] ?? 0), "totalBackupsUsed": JSON(use["backups"] ?? 0), "totalBackupGigabytesUsed": JSON(use["backup_gigabytes"] ?? 0),
            ]
            return .json(.ok, ["limits": ["rate": [], "absolute": .object(absolute)]])
        }
    }

    /// The limits a body sets: integers of -1 or more (numeric strings too, as Cinder takes them).
    private func requested(_ json: JSON, wrapper: String) throws -> [String: Int] {
        let body = try VolumeInput.body(json, wrapper)
        var values: [String: Int] = [:]
        for (key, value) in body where key != "id" && key != "tenant_id" {
            let limit: Int?
            switch value {
            case .int(let i): limit = Int(exactly: i)
            case .string(let s): limit = Int(s)
            default: limit = nil
            }
            guard let limit, limit >= -1, limit <= Int(Int32.max) else {
                throw BlockStorageFault.invalidInput("Quota limit for \(key) must be an integer of -1 or more.")
            }
            values[key] = limit
        }
        return values
    }
}
