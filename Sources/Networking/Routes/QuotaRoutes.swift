import Hummingbird
import MartletCore
import SQLKit

/// `/v2.0/quotas`: Neutron's defaults, per-project overrides and usage.
struct QuotaRoutes {
    let service: NetworkService

    func register(_ r: PolicyRouter) {
        let quotas = service.quotas
        r.get("/v2.0/quotas", rule: "get_quotas") { call in
            let overrides = try await service.read { db in try await service.store.quotaOverrides(project: nil, in: db) }
            return .json(.ok, ["quotas": .array(overrides.keys.sorted().map { project in
                var entry = NetworkQuotas.defaults.merging(overrides[project] ?? [:]) { _, new in new }.mapValues { JSON.int(Int64($0)) }
                entry["project_id"] = .string(project)
                entry["tenant_id"] = .string(project)
                return .object(entry)
            })])
        }
        for suffix in ["", "/default", "/details", "/details.json", "/default.json"] {
            r.get("/v2.0/quotas/:project_id\(suffix)", rule: "get_quota", loadsTarget: true) { call in
                let project = try call.param("project_id")
                if project == "tenant" || project == "project", suffix.isEmpty {
                    try call.authorize(["project_id": call.auth.projectID ?? ""])
                    return .json(.ok, [project: ["\(project)_id": .string(call.auth.projectID ?? "")]])
                }
                try call.authorize(["project_id": project])
                if suffix.hasPrefix("/default") {
                    return .json(.ok, ["quota": .object(NetworkQuotas.defaults.mapValues { .int(Int64($0)) })])
                }
                let limits = try await service.read { db in try await quotas.limits(project: project, in: db) }
                guard suffix.hasPrefix("/details") else {
                    return .json(.ok, ["quota": .object(limits.mapValues { .int(Int64($0)) })])
                }
                let details = try await service.read { db in
                    var details: [String: JSON] = [:]
                    for (resource, limit) in limits {
                        var used = 0
                        if let table = NetworkQuotas.tables[resource] {
                            used = try await service.store.count(table, where: "project_id = \(bind: project)", in: db)
                        }
                        details[resource] = ["limit": .int(Int64(limit)), "used": .int(Int64(used)), "reserved": 0]
                    }
                    return details
                }
                return .json(.ok, ["quota": .object(details)])
            }
        }
        r.put("/v2.0/quotas/:project_id", rule: "update_quota") { call in
            let project = try call.param("project_id")
            guard let body = try await call.body()["quota"]?.objectValue else { throw NetFault.badRequest("Resource body required: the request must carry 'quota'.") }
            let fields = Body(body, resource: "quota")
            try fields.only(Set(NetworkQuotas.defaults.keys).union(["check_limit", "force"]))
            var values: [String: Int] = [:]
            for resource in NetworkQuotas.defaults.keys where fields.has(resource) {
                guard let limit = try fields.int(resource), limit >= -1 else {
                    throw NetFault.invalid(resource, "'\(body[resource]!.text)' is not an integer of -1 or more")
                }
                values[resource] = limit
            }
            let limits = try await service.change(call) { change in
                for (resource, limit) in values {
                    try await change.store.setQuota(project: project, resource: resource, limit: limit, in: change.db)
                }
                return try await quotas.limits(project: project, in: change.db)
            }
            return .json(.ok, ["quota": .object(limits.mapValues { .int(Int64($0)) })])
        }
        r.delete("/v2.0/quotas/:project_id", rule: "delete_quota") { call in
            let project = try call.param("project_id")
            try await service.change(call) { change in try await change.store.resetQuotas(project: project, in: change.db) }
            return .empty()
        }
    }
}
