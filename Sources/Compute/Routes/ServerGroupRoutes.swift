import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/os-server-groups`.
struct ServerGroupRoutes {
    let service: ComputeService
    let groups = ServerGroups()

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-server-groups", rule: "os_compute_api:os-server-groups:index") { call in
            try service.checkQuery(call, allowed: ["all_projects", "limit", "offset"])
            let v = service.version(call)
            let all = call.allowed("os_compute_api:os-server-groups:index:all_projects") && ["1", "true", "True"].contains(call.query("all_projects") ?? "")
            var list = try await service.db.read { db in
                try await groups.list(all ? "1 = 1" : "project_id = \(bind: call.auth.projectID ?? "")", in: db)
            }
            if let offset = call.query("offset").flatMap(Int.init) { list = Array(list.dropFirst(max(0, offset))) }
            list = Array(Pagination.page(list, limit: try Pagination.limit(call.query("limit"), max: .max, invalid: ComputeFault.invalidLimit)).items)
            return .json(.ok, ["server_groups": .array(list.map { $0.json(v) })])
        }
        r.get("/v2.1/os-server-groups/:group_id", rule: "os_compute_api:os-server-groups:show", loadsTarget: true) { call in
            .json(.ok, ["server_group": try await visible(call).json(service.version(call))])
        }
        r.delete("/v2.1/os-server-groups/:group_id", rule: "os_compute_api:os-server-groups:delete", loadsTarget: true) { call in
            let group = try await visible(call)
            try await service.db.transaction { db in try await groups.delete(group.id, in: db) }
            return .empty(.noContent)
        }
        r.post("/v2.1/os-server-groups", rule: "os_compute_api:os-server-groups:create") { try await create($0) }
    }

    private func visible(_ call: APICall) async throws -> ServerGroup {
        let id = try call.param("group_id")
        guard let group = try await service.db.read({ try await groups.get(id, in: $0) }),
              call.isComputeAdmin || group.projectID == call.auth.projectID else {
            throw APIError.notFound("Instance group \(id) could not be found.")
        }
        try call.authorize(["project_id": group.projectID])
        return group
    }

    private func create(_ call: APICall) async throws -> Response {
        let v = service.version(call)
        let f = try JSONFields.body(try await call.body(), wrapper: "server_group")
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        guard name.trimmingCharacters(in: .whitespaces) == name else {
            throw APIError.badRequest("Invalid input for field/attribute name. Value: \(name). Leading and trailing spaces are not allowed.")
        }
        var policy: String
        var rules: [String: String] = [:]
        if v >= Microversion(2, 64) {
            if f.has("policies") { throw APIError.badRequest("Invalid input for field/attribute server_group. Additional properties are not allowed ('policies' was unexpected)") }
            policy = try f.requiredString("policy")
            if let r = try f.object("rules") {
                for (key, value) in r.members {
                    guard key == "max_server_per_host", case .int(let n) = value, n >= 1 else {
                        throw APIError.badRequest("Invalid input for field/attribute rules: only max_server_per_host, a positive integer, is allowed.")
                    }
                    guard policy == "anti-affinity" else { throw APIError.badRequest("Only anti-affinity policy supports rules.") }
                    rules[key] = String(n)
                }
            }
        } else {
            guard let policies = try f.strings("policies"), policies.count == 1 else {
                throw APIError.badRequest("Invalid input for field/attribute policies: exactly one policy is required.")
            }
            policy = policies[0]
        }
        guard ServerGroup.policies.contains(policy), v >= Microversion(2, 15) || !policy.hasPrefix("soft-") else {
            throw APIError.badRequest("Invalid input for field/attribute policies. Value: \(policy). It is not an accepted policy.")
        }
        guard let projectID = call.auth.projectID else { throw APIError.forbidden("Server groups belong to a project: use a project-scoped token.") }
        let group = ServerGroup(id: Identifier.uuid(), projectID: projectID, userID: call.auth.userID, name: name, policy: policy,
                                rules: rules, members: [], createdAt: Date().timeIntervalSince1970)
        try await service.db.transaction { db in
            let used = try await db.raw("SELECT COUNT(*) AS n FROM cmp_server_groups WHERE project_id = \(bind: projectID)").first()?
                .decode(column: "n", as: Int.self) ?? 0
            try await service.quotas.check("server_groups", project: projectID, used: used, in: db)
            try await groups.insert(group, in: db)
        }
        return .json(.ok, ["server_group": group.json(v)])
    }
}
