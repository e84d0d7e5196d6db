import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/v3/roles`, implied roles and role inferences.
struct RoleRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let known: Set<String> = ["id", "name", "domain_id", "description", "options", "links"]

    func register(_ r: PolicyRouter) {
        r.get("/v3/roles", rule: "identity:list_roles") { call in
            let names = NameFilter(query: call.queryItems)
            let domainID = call.query("domain_id") ?? ""
            let roles = try await store.allRoles().filter { names.matches($0.name) && $0.domainID == domainID }
            return .json(.ok, ["roles": .array(roles.map { $0.json(store) }), "links": store.collectionLinks("roles")])
        }
        r.post("/v3/roles", rule: "identity:create_role") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "role")
            let domainID = try f.string("domain_id", minLength: 1, maxLength: 64, nullable: true) ?? ""
            if !domainID.isEmpty { _ = try await store.requireDomain(domainID) }
            let role = Role(id: Identifier.hex(), name: try f.requiredString("name", maxLength: 255), domainID: domainID,
                            description: try f.string("description", maxLength: 255, nullable: true) ?? "", extra: f.extras(excluding: Self.known))
            try await store.write(conflict: "Conflict occurred attempting to store role - Duplicate entry found with name \(role.name).") {
                try await store.insert(role, in: $0)
            }
            return .json(.created, ["role": role.json(store)])
        }
        r.get("/v3/roles/:role_id", rule: "identity:get_role") { call in
            .json(.ok, ["role": try await store.requireRole(try call.param("role_id")).json(store)])
        }
        r.patch("/v3/roles/:role_id", rule: "identity:update_role") { call in
            var role = try await store.requireRole(try call.param("role_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "role")
            if f.has("domain_id"), (try f.string("domain_id", nullable: true) ?? "") != role.domainID {
                throw APIError.badRequest("Invalid input for field 'role.domain_id': it cannot be updated.")
            }
            if let name = try f.string("name", minLength: 1, maxLength: 255) { role.name = name }
            if f.has("description") { role.description = try f.string("description", maxLength: 255, nullable: true) ?? "" }
            for (key, value) in f.extras(excluding: Self.known) { role.extra[key] = value }
            try await store.write(conflict: "Conflict occurred attempting to update role - Duplicate entry found with name \(role.name).") {
                try await store.update(role, in: $0)
            }
            return .json(.ok, ["role": role.json(store)])
        }
        r.delete("/v3/roles/:role_id", rule: "identity:delete_role") { call in
            let role = try await store.requireRole(try call.param("role_id"))
            try await store.transaction { try await store.deleteRole(role.id, in: $0) }
            return .empty()
        }

        r.get("/v3/roles/:role_id/implies", rule: "identity:list_implied_roles") { call in
            let (prior, implied) = try await store.read { db -> (Role, [Role]) in
                let prior = try await store.requireRole(try call.param("role_id"), in: db)
                var implied: [Role] = []
                for rule in try await store.inferenceRules(in: db) where rule.prior == prior.id {
                    if let role = try await store.role(rule.implied, in: db) { implied.append(role) }
                }
                return (prior, implied)
            }
            return .json(.ok, [
                "role_inference": ["prior_role": prior.summaryJSON(store), "implies": .array(implied.map { $0.summaryJSON(store) })],
                "links": ["self": .string("\(store.linkBase)/roles/\(prior.id)/implies")],
            ])
        }
        r.put("/v3/roles/:role_id/implies/:implied_role_id", rule: "identity:create_implied_role") { call in
            let (prior, implied) = try await rolePair(call)
            if implied.name == "admin" && implied.domainID.isEmpty { throw APIError.forbidden("The admin role cannot be implied by another role.") }
            if prior.domainID.isEmpty && !implied.domainID.isEmpty {
                throw APIError.forbidden("A global role cannot imply a domain-specific role.")
            }
            try await store.transaction { db in
                if try await !store.inferenceExists(prior: prior.id, implied: implied.id, in: db) {
                    try await store.addInference(prior: prior.id, implied: implied.id, in: db)
                }
            }
            return .json(.created, inferenceJSON(prior, implied))
        }
        r.get("/v3/roles/:role_id/implies/:implied_role_id", rule: "identity:get_implied_role") { call in
            let (prior, implied) = try await existingInference(call)
            return .json(.ok, inferenceJSON(prior, implied))
        }
        r.head("/v3/roles/:role_id/implies/:implied_role_id", rule: "identity:get_implied_role") { call in
            _ = try await existingInference(call)
            return .empty()
        }
        r.delete("/v3/roles/:role_id/implies/:implied_role_id", rule: "identity:delete_implied_role") { call in
            let (prior, implied) = try await existingInference(call)
            try await store.transaction { try await store.removeInference(prior: prior.id, implied: implied.id, in: $0) }
            return .empty()
        }
        r.get("/v3/role_inferences", rule: "identity:list_role_inference_rules") { _ in
            let roles = Dictionary(uniqueKeysWithValues: try await store.allRoles().map { ($0.id, $0) })
            let rules = try await store.read { try await store.inferenceRules(in: $0) }
            var order: [String] = []
            var implies: [String: [JSON]] = [:]
            for rule in rules {
                guard let implied = roles[rule.implied] else { continue }
                if implies[rule.prior] == nil { order.append(rule.prior) }
                implies[rule.prior, default: []].append(implied.summaryJSON(store))
            }
            let inferences: [JSON] = order.compactMap { id in
                guard let prior = roles[id] else { return nil }
                return ["prior_role": prior.summaryJSON(store), "implies": .array(implies[id] ?? [])]
            }
            return .json(.ok, ["role_inferences": .array(inferences), "links": store.collectionLinks("role_inferences")])
        }
    }

    private func rolePair(_ call: APICall) async throws -> (Role, Role) {
        try await store.read { db in
            (try await store.requireRole(try call.param("role_id"), in: db),
             try await store.requireRole(try call.param("implied_role_id"), in: db))
        }
    }

    private func existingInference(_ call: APICall) async throws -> (Role, Role) {
        let (prior, implied) = try await rolePair(call)
        guard try await store.read({ try await store.inferenceExists(prior: prior.id, implied: implied.id, in: $0) }) else {
            throw APIError.notFound("Role \(prior.id) does not imply \(implied.id).")
        }
        return (prior, implied)
    }

    private func inferenceJSON(_ prior: Role, _ implied: Role) -> JSON {
        [
            "role_inference": ["prior_role": prior.summaryJSON(store), "implies": implied.summaryJSON(store)],
            "links": ["self": .string("\(store.linkBase)/roles/\(prior.id)/implies/\(implied.id)")],
        ]
    }
}
