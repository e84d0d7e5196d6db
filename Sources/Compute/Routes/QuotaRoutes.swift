import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/os-quota-sets`, `/os-quota-class-sets` and `/limits`.
struct QuotaRoutes {
    let service: ComputeService
    var quotas: Quotas { service.quotas }

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-quota-sets/:project_id", rule: "os_compute_api:os-quota-sets:show") { try await show($0, detail: false) }
        r.get("/v2.1/os-quota-sets/:project_id/detail", rule: "os_compute_api:os-quota-sets:show") { try await show($0, detail: true) }
        r.get("/v2.1/os-quota-sets/:project_id/defaults", rule: "os_compute_api:os-quota-sets:defaults") { call in
            let v = service.version(call)
            let limits = try await service.db.read { try await quotas.limits(Quotas.defaultClass, in: $0) }
            return .json(.ok, ["quota_set": quotaSet(limits, v, id: try call.param("project_id"))])
        }
        r.put("/v2.1/os-quota-sets/:project_id", rule: "os_compute_api:os-quota-sets:update") { call in
            let project = try call.param("project_id")
            let values = try limits(try JSONFields.body(try await call.body(), wrapper: "quota_set"), version: service.version(call), allowForce: true)
            let limits = try await service.db.transaction { db in
                try await quotas.set(project, values, in: db)
                return try await quotas.limits(project, in: db)
            }
            return .json(.ok, ["quota_set": quotaSet(limits, service.version(call), id: nil)])
        }
        r.delete("/v2.1/os-quota-sets/:project_id", rule: "os_compute_api:os-quota-sets:delete") { call in
            let project = try call.param("project_id")
            try await service.db.transaction { db in try await quotas.reset(project, in: db) }
            return .empty(.accepted)
        }
        r.get("/v2.1/os-quota-class-sets/:class", rule: "os_compute_api:os-quota-sets:defaults") { call in
            let limits = try await service.db.read { try await quotas.limits(Quotas.defaultClass, in: $0) }
            return .json(.ok, ["quota_class_set": quotaSet(limits, service.version(call), id: try call.param("class"), classSet: true)])
        }
        r.put("/v2.1/os-quota-class-sets/:class", rule: "os_compute_api:os-quota-sets:update") { call in
            guard try call.param("class") == "default" else { throw APIError.badRequest("Only the 'default' quota class can be changed.") }
            let values = try limits(try JSONFields.body(try await call.body(), wrapper: "quota_class_set"), version: service.version(call),
                                    allowForce: false, classSet: true)
            let limits = try await service.db.transaction { db in
                try await quotas.set(Quotas.defaultClass, values, in: db)
                return try await quotas.limits(Quotas.defaultClass, in: db)
            }
            return .json(.ok, ["quota_class_set": quotaSet(limits, service.version(call), id: nil, classSet: true)])
        }
        r.get("/v2.1/limits", rule: "os_compute_api:limits") { try await limitsView($0) }
    }

    private func quotaSet(_ limits: [String: Int], _ v: Microversion, id: String?, classSet: Bool = false) -> JSON {
        var body: [String: JSON] = [:]
        for resource in Quotas.shown(v, classSet: classSet) { body[resource] = JSON(limits[resource] ?? -1) }
        if let id { body["id"] = .string(id) }
        return .object(body)
    }

    private func limits(_ f: JSONFields, version v: Microversion, allowForce: Bool, classSet: Bool = false) throws -> [String: Int] {
        var values: [String: Int] = [:]
        let shown = Set(Quotas.shown(v, classSet: classSet))
        for (key, value) in f.members {
            if key == "force" && allowForce { continue }
            guard shown.contains(key) else {
                throw APIError.badRequest("Invalid input for field/attribute quota_set. Additional properties are not allowed ('\(key)' was unexpected)")
            }
            let n: Int?
            switch value {
            case .int(let i): n = Int(i)
            case .string(let s): n = Int(s)
            default: n = nil
            }
            guard let n, n >= -1, n <= Int(Int32.max) else {
                throw APIError.badRequest("Invalid input for field/attribute \(key). Value: \(value.text). It must be an integer of at least -1.")
            }
            values[key] = n
        }
        return values
    }

    private func show(_ call: APICall, detail: Bool) async throws -> Response {
        try service.checkQuery(call, allowed: ["user_id"])
        let project = try call.param("project_id")
        try call.enforce("os_compute_api:os-quota-sets:show", ["project_id": project])
        let v = service.version(call)
        let user = call.query("user_id") ?? call.auth.userID
        let limits = try await service.db.read { db in try await quotas.limits(project, in: db) }
        let used = try await service.db.read { db in try await usage(project, userID: user, in: db) }
        if !detail { return .json(.ok, ["quota_set": quotaSet(limits, v, id: project)]) }
        var body: [String: JSON] = ["id": .string(project)]
        for resource in Quotas.shown(v) {
            body[resource] = ["limit": JSON(limits[resource] ?? -1), "in_use": JSON(used[resource] ?? 0), "reserved": 0]
        }
        return .json(.ok, ["quota_set": .object(body)])
    }

    private func usage(_ project: String, userID: String, in db: any SQLDatabase) async throws -> [String: Int] {
        let servers = try await service.servers.usage(project: project, in: db)
        let groups = try await db.raw("SELECT COUNT(*) AS n FROM cmp_server_groups WHERE project_id = \(bind: project)").first()?
            .decode(column: "n", as: Int.self) ?? 0
        return ["instances": servers.instances, "cores": servers.cores, "ram": servers.ram, "server_groups": groups,
                "key_pairs": try await KeypairStore().count(user: userID, in: db)]
    }

    private func limitsView(_ call: APICall) async throws -> Response {
        try service.checkQuery(call, allowed: ["tenant_id"])
        let v = service.version(call)
        var project = call.auth.projectID ?? ""
        if let asked = call.query("tenant_id"), call.allowed("os_compute_api:limits:other_project", ["project_id": asked]) { project = asked }
        let limits = try await service.db.read { db in try await quotas.limits(project, in: db) }
        let used = try await service.db.read { db in try await usage(project, userID: call.auth.userID, in: db) }
        var absolute: [String: JSON] = [
            "maxTotalInstances": JSON(limits["instances"] ?? -1), "maxTotalCores": JSON(limits["cores"] ?? -1),
            "maxTotalRAMSize": JSON(limits["ram"] ?? -1), "maxTotalKeypairs": JSON(limits["key_pairs"] ?? -1),
            "maxServerMeta": JSON(limits["metadata_items"] ?? -1),
            "maxServerGroups": JSON(limits["server_groups"] ?? -1), "maxServerGroupMembers": JSON(limits["server_group_members"] ?? -1),
            "totalInstancesUsed": JSON(used["instances"] ?? 0), "totalCoresUsed": JSON(used["cores"] ?? 0),
            "totalRAMUsed": JSON(used["ram"] ?? 0), "totalServerGroupsUsed": JSON(used["server_groups"] ?? 0),
        ]
        if v < Microversion(2, 39) { absolute["maxImageMeta"] = JSON(limits["metadata_items"] ?? -1) }
        if v < Microversion(2, 36) {
            absolute.merge(["maxTotalFloatingIps": JSON(limits["floating_ips"] ?? -1), "maxSecurityGroups": JSON(limits["security_groups"] ?? -1),
                            "maxSecurityGroupRules": JSON(limits["security_group_rules"] ?? -1), "totalFloatingIpsUsed": 0,
                            "totalSecurityGroupsUsed": 0]) { _, new in new }
        }
        if v < Microversion(2, 57) {
            absolute["maxPersonality"] = JSON(limits["injected_files"] ?? -1)
            absolute["maxPersonalitySize"] = JSON(limits["injected_file_content_bytes"] ?? -1)
        }
        return .json(.ok, ["limits": ["absolute": .object(absolute), "rate": []]])
    }
}
