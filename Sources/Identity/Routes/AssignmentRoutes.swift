import Foundation
import Hummingbird
import MartletCore

/// Grants (`/v3/{projects,domains}/…/{users,groups}/…/roles/…`, `/v3/system/…`).
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
        // OS-INHERIT: grants that hold on every project below a domain or a project, under the
        // same rules as the others (Keystone lists them on domains only).
        for target in [Assignment.TargetType.domain, .project] {
            for actor in [Assignment.ActorType.user, .group] {
                let base = "/v3/OS-INHERIT/\(target.rawValue)s/:\(target.rawValue)_id/\(actor.rawValue)s/:\(actor.rawValue)_id/roles"
                registerGrants(r, base: base, target: target, actor: actor, suffix: "", inherited: true)
            }
        }
    }

    private func registerGrants(_ r: PolicyRouter, base: String, target: Assignment.TargetType, actor: Assignment.ActorType, suffix: String,
                                inherited: Bool = false) {
        let tail = inherited ? "/inherited_to_projects" : ""
        if !inherited || target == .domain {
            r.getAndHead("\(base)\(tail)", rule: "identity:list_\(suffix)grants") { call in
                let a = try await assignment(call, target: target, actor: actor, roleID: nil, inherited: inherited)
                let roles = try await store.grantedRoles(actorType: actor, actorID: a.actorID, targetType: target, targetID: a.targetID,
                                                         inherited: inherited)
                return .json(.ok, ["roles": .array(roles.map { $0.json(store) }), "links": store.collectionLinks(Self.pathBelowV3(call))])
            }
        }
        r.getAndHead("\(base)/:role_id\(tail)", rule: "identity:check_\(suffix)grant") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: try call.param("role_id"), inherited: inherited)
            guard try await store.read({ try await store.grantExists(a, in: $0) }) else { throw Self.noGrant(a) }
            return .empty()
        }
        r.put("\(base)/:role_id\(tail)", rule: "identity:create_\(suffix)grant") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: try call.param("role_id"), inherited: inherited, creating: true)
            try await store.transaction { try await store.grant(a, in: $0) }
            return .empty()
        }
        r.delete("\(base)/:role_id\(tail)", rule: "identity:revoke_\(suffix)grant") { call in
            let a = try await assignment(call, target: target, actor: actor, roleID: try call.param("role_id"), inherited: inherited)
            try await store.transaction { db in
                guard try await store.grantExists(a, in: db) else { throw Self.noGrant(a) }
                try await store.revokeGrant(a, in: db)
            }
            return .empty()
        }
    }

    /// The request's path after `/v3/`, for a list's `links.self`.
    static func pathBelowV3(_ call: APICall) -> String {
        let path = call.request.uri.path
        guard let range = path.range(of: "/v3/") else { return path }
        return String(path[range.upperBound...])
    }

    static func noGrant(_ a: Assignment) -> APIError {
        .notFound("Could not find role assignment with role: \(a.roleID), \(a.actorType.rawValue): \(a.actorID), \(a.targetType.rawValue): \(a.targetID).")
    }

    /// The assignment named by the path, after checking that each of its parts exists (and, for a new
    /// project grant of a domain-specific role, that project and role are in the same domain).
    private func assignment(_ call: APICall, target: Assignment.TargetType, actor: Assignment.ActorType, roleID: String?,
                            inherited: Bool = false, creating: Bool = false) async throws -> Assignment {
        let actorID = try call.param("\(actor.rawValue)_id")
        let targetID = target == .system ? "all" : try call.param("\(target.rawValue)_id")
        try await store.read { db in
            switch actor {
            case .user: if try await store.user(actorID, in: db) == nil { throw APIError.notFound("Could not find user: \(actorID).") }
            case .group: if try await store.group(actorID, in: db) == nil { throw APIError.notFound("Could not find group: \(actorID).") }
            }
            var projectDomain: String?
            switch target {
            case .project:
                guard let p = try await store.project(targetID, in: db), !p.isDomain else { throw APIError.notFound("Could not find project: \(targetID).") }
                projectDomain = p.domainID
            case .domain: _ = try await store.requireDomain(targetID, in: db)
            case .system: break
            }
            if let roleID {
                let role = try await store.requireRole(roleID, in: db)
                if creating, let projectDomain, !role.domainID.isEmpty, role.domainID != projectDomain {
                    throw APIError.forbidden("Project \(targetID) must be in the same domain as the role \(roleID) being assigned.")
                }
            }
        }
        return Assignment(actorType: actor, actorID: actorID, targetType: target, targetID: targetID, roleID: roleID ?? "", inherited: inherited)
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
