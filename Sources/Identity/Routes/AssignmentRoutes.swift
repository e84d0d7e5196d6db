import Foundation
import Hummingbird
import MartletCore

/// Grants (`/v3/{projects,domains}/…/{users,groups}/…/roles/…`, `/v3/system/…`) and `/v3/role_assignments`.
struct AssignmentRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        for target in [Assignment.TargetType.project, .domain] {
            for actor in [Assignment.ActorType.user, .group] {
                let base = "/v3/\(target.rawValue)s/:\(target.rawValue)_id/\(actor.rawValue)s/:\(actor.rawValue)_id/roles"
                registerGrants(r, base: base, target: target, actor: actor, suffix: "")
            }
        }
        for actor in [Assignment.ActorType.user, .group] {
            registerGrants(r, base: "/v3/system/\(actor.rawValue)s/:\(actor.rawValue)_id/roles", target: .system, actor: actor, suffix: "system_")
        }
        r.get("/v3/role_assignments", rule: "identity:list_role_assignments") { call in
            .json(.ok, ["role_assignments": .array(try await roleAssignments(call)), "links": store.collectionLinks("role_assignments")])
        }
    }

    private func registerGrants(_ r: PolicyRouter, base: String, target: Assignment.TargetType, actor: Assignment.ActorType, suffix: String) {
        r.get(base, rule: "identity:list_\(suffix)grants") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: nil)
            let roles = try await store.grantedRoles(actorType: actor, actorID: a.actorID, targetType: target, targetID: a.targetID)
            return .json(.ok, ["roles": .array(roles.map { $0.json(store) }), "links": store.collectionLinks(String(base.dropFirst(4)))])
        }
        r.getAndHead("\(base)/:role_id", rule: "identity:check_\(suffix)grant") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: try call.param("role_id"))
            guard try await store.read({ try await store.grantExists(a, in: $0) }) else { throw Self.noGrant(a) }
            return .empty()
        }
        r.put("\(base)/:role_id", rule: "identity:create_\(suffix)grant") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: try call.param("role_id"))
            try await store.transaction { try await store.grant(a, in: $0) }
            return .empty()
        }
        r.delete("\(base)/:role_id", rule: "identity:revoke_\(suffix)grant") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: try call.param("role_id"))
            try await store.transaction { db in
                guard try await store.grantExists(a, in: db) else { throw Self.noGrant(a) }
                try await store.revokeGrant(a, in: db)
            }
            return .empty()
        }
    }

    static func noGrant(_ a: Assignment) -> APIError {
        .notFound("Could not find role assignment with role: \(a.roleID), \(a.actorType.rawValue): \(a.actorID), \(a.targetType.rawValue): \(a.targetID).")
    }

    /// The assignment named by the path, after checking that each of its parts exists.
    private func assignment(_ call: APICall, target: Assignment.TargetType, actor: Assignment.ActorType, roleID: String?) async throws -> Assignment {
        let actorID = try call.param("\(actor.rawValue)_id")
        let targetID = target == .system ? "all" : try call.param("\(target.rawValue)_id")
        try await store.read { db in
            switch actor {
            case .user: if try await store.user(actorID, in: db) == nil { throw APIError.notFound("Could not find user: \(actorID).") }
            case .group: if try await store.group(actorID, in: db) == nil { throw APIError.notFound("Could not find group: \(actorID).") }
            }
            switch target {
            case .project:
                guard let p = try await store.project(targetID, in: db), !p.isDomain else { throw APIError.notFound("Could not find project: \(targetID).") }
            case .domain: _ = try await store.requireDomain(targetID, in: db)
            case .system: break
            }
            if let roleID { _ = try await store.requireRole(roleID, in: db) }
        }
        return Assignment(actorType: actor, actorID: actorID, targetType: target, targetID: targetID, roleID: roleID ?? "")
    }

    /// One row of `/v3/role_assignments`: an assignment, possibly derived through a group or an implied role.
    struct Listed: Hashable {
        var assignment: Assignment
        var via: Assignment?
        var priorRoleID: String?
    }

    private func roleAssignments(_ call: APICall) async throws -> [JSON] {
        let q = call.queryItems
        let effective = q["effective"] != nil && queryBool(q["effective"]) != false
        let includeNames = q["include_names"] != nil && queryBool(q["include_names"]) != false
        let (assignments, members, rules) = try await store.read { db in
            (try await store.assignments(in: db), try await store.memberships(in: db), try await store.inferenceRules(in: db))
        }
        var rows = assignments.map { Listed(assignment: $0) }
        if effective {
            rows = rows.flatMap { row -> [Listed] in
                guard row.assignment.actorType == .group else { return [row] }
                return members.filter { $0.group == row.assignment.actorID }.map { m in
                    var a = row.assignment
                    a.actorType = .user
                    a.actorID = m.user
                    return Listed(assignment: a, via: row.assignment)
                }
            }
            var expanded: [Listed] = []
            for row in rows {
                expanded.append(row)
                var seen: Set<String> = [row.assignment.roleID]
                var frontier = [row.assignment.roleID]
                while let prior = frontier.popLast() {
                    for rule in rules where rule.prior == prior && !seen.contains(rule.implied) {
                        seen.insert(rule.implied)
                        frontier.append(rule.implied)
                        var a = row.assignment
                        a.roleID = rule.implied
                        expanded.append(Listed(assignment: a, via: row.via, priorRoleID: prior))
                    }
                }
            }
            // Domain-specific roles only ever stand for the global roles they imply.
            let domainRoles = Set(try await store.allRoles().filter { !$0.domainID.isEmpty }.map(\.id))
            rows = expanded.filter { !domainRoles.contains($0.assignment.roleID) }
        }
        rows = rows.filter { row in
            let a = row.assignment
            if let u = q["user.id"], !(a.actorType == .user && a.actorID == u) { return false }
            if let g = q["group.id"], !(a.actorType == .group && a.actorID == g) { return false }
            if let r = q["role.id"], a.roleID != r { return false }
            if let p = q["scope.project.id"], !(a.targetType == .project && a.targetID == p) { return false }
            if let d = q["scope.domain.id"], !(a.targetType == .domain && a.targetID == d) { return false }
            if q["scope.system"] != nil, a.targetType != .system { return false }
            return true
        }
        var seen = Set<Listed>()
        rows = rows.filter { seen.insert($0).inserted }
        let names = includeNames ? try await NameBook.load(store) : nil
        return rows.map { render($0, names: names) }
    }

    private func render(_ row: Listed, names: NameBook?) -> JSON {
        let a = row.assignment
        var links: [String: JSON] = ["assignment": .string("\(store.linkBase)/\((row.via ?? a).path(roleID: row.priorRoleID))")]
        if let via = row.via { links["membership"] = .string("\(store.linkBase)/groups/\(via.actorID)/users/\(a.actorID)") }
        if let prior = row.priorRoleID { links["prior_role"] = .string("\(store.linkBase)/roles/\(prior)") }
        let scope: JSON
        switch a.targetType {
        case .project: scope = ["project": names?.project(a.targetID) ?? ["id": .string(a.targetID)]]
        case .domain: scope = ["domain": names?.domain(a.targetID) ?? ["id": .string(a.targetID)]]
        case .system: scope = ["system": ["all": true]]
        }
        let actor: JSON = names?.actor(a.actorType, a.actorID) ?? ["id": .string(a.actorID)]
        var entry: [String: JSON] = ["role": names?.role(a.roleID) ?? ["id": .string(a.roleID)], "scope": scope, "links": .object(links)]
        entry[a.actorType.rawValue] = actor
        return .object(entry)
    }
}

/// Names of everything an assignment can mention, for `include_names`.
struct NameBook {
    var projects: [String: Project] = [:]
    var users: [String: User] = [:]
    var groups: [String: Group] = [:]
    var roles: [String: Role] = [:]

    static func load(_ store: IdentityStore) async throws -> NameBook {
        var book = NameBook()
        for p in try await store.allProjects() { book.projects[p.id] = p }
        for u in try await store.allUsers(domainID: nil) { book.users[u.id] = u }
        for g in try await store.allGroups() { book.groups[g.id] = g }
        for r in try await store.allRoles() { book.roles[r.id] = r }
        return book
    }

    func domain(_ id: String) -> JSON {
        ["id": .string(id), "name": JSON(projects[id]?.name)]
    }

    func project(_ id: String) -> JSON {
        guard let p = projects[id] else { return ["id": .string(id)] }
        return ["id": .string(id), "name": .string(p.name), "domain": domain(p.domainID)]
    }

    func actor(_ type: Assignment.ActorType, _ id: String) -> JSON {
        switch type {
        case .user:
            guard let u = users[id] else { return ["id": .string(id)] }
            return ["id": .string(id), "name": .string(u.name), "domain": domain(u.domainID)]
        case .group:
            guard let g = groups[id] else { return ["id": .string(id)] }
            return ["id": .string(id), "name": .string(g.name), "domain": domain(g.domainID)]
        }
    }

    func role(_ id: String) -> JSON {
        guard let r = roles[id] else { return ["id": .string(id)] }
        var json: [String: JSON] = ["id": .string(id), "name": .string(r.name)]
        if !r.domainID.isEmpty { json["domain"] = domain(r.domainID) }
        return .object(json)
    }
}
