import Foundation
import MartletCore
import SQLKit

/// A role granted to a user or group on a project, a domain or the system.
struct Assignment: Sendable, Hashable {
    enum ActorType: String, Sendable { case user, group }
    enum TargetType: String, Sendable { case project, domain, system }

    var actorType: ActorType
    var actorID: String
    var targetType: TargetType
    /// The project or domain ID; `all` for the system.
    var targetID: String
    var roleID: String
    /// OS-INHERIT: the role holds on every project below the target, not on the target itself.
    var inherited = false

    /// The API path of this grant, used for `links.assignment`.
    func path(roleID: String? = nil) -> String {
        let role = roleID ?? self.roleID
        switch targetType {
        case .system: return "system/\(actorType.rawValue)s/\(actorID)/roles/\(role)"
        default:
            let path = "\(targetType.rawValue)s/\(targetID)/\(actorType.rawValue)s/\(actorID)/roles/\(role)"
            return inherited ? "OS-INHERIT/\(path)/inherited_to_projects" : path
        }
    }
}

extension Assignment {
    init(row: any SQLRow) throws {
        guard let actor = ActorType(rawValue: try row.string("actor_type")),
              let target = TargetType(rawValue: try row.string("target_type")) else {
            throw APIError.internalError()
        }
        actorType = actor
        actorID = try row.string("actor_id")
        targetType = target
        targetID = try row.string("target_id")
        roleID = try row.string("role_id")
        inherited = try row.bool("inherited")
    }
}

extension IdentityStore {
    /// Every project and domain grant, inherited ones included, and every system grant.
    func assignments(in db: any SQLDatabase) async throws -> [Assignment] {
        try await db.raw("SELECT actor_type, actor_id, target_type, target_id, role_id, inherited FROM identity_assignments")
            .all().map(Assignment.init(row:))
    }

    func grantExists(_ a: Assignment, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            SELECT role_id FROM identity_assignments WHERE actor_type = \(bind: a.actorType.rawValue) AND actor_id = \(bind: a.actorID)
              AND target_type = \(bind: a.targetType.rawValue) AND target_id = \(bind: a.targetID) AND role_id = \(bind: a.roleID)
              AND inherited = \(bind: a.inherited)
            """).first() != nil
    }

    func grant(_ a: Assignment, in db: any SQLDatabase) async throws {
        guard try await !grantExists(a, in: db) else { return }
        try await db.raw("""
            INSERT INTO identity_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited)
            VALUES (\(bind: a.actorType.rawValue), \(bind: a.actorID), \(bind: a.targetType.rawValue), \(bind: a.targetID), \(bind: a.roleID), \(bind: a.inherited))
            """).run()
    }

    func revokeGrant(_ a: Assignment, in db: any SQLDatabase) async throws {
        try await db.raw("""
            DELETE FROM identity_assignments WHERE actor_type = \(bind: a.actorType.rawValue) AND actor_id = \(bind: a.actorID)
              AND target_type = \(bind: a.targetType.rawValue) AND target_id = \(bind: a.targetID) AND role_id = \(bind: a.roleID)
              AND inherited = \(bind: a.inherited)
            """).run()
    }

    /// Roles granted directly to the actor on the target (the inherited grants there, or the others).
    func grantedRoles(actorType: Assignment.ActorType, actorID: String, targetType: Assignment.TargetType, targetID: String,
                      inherited: Bool = false) async throws -> [Role] {
        try await read { db in
            try await db.raw("""
                SELECT r.id, r.name, r.domain_id, r.description, r.extra FROM identity_roles r
                JOIN identity_assignments a ON a.role_id = r.id
                WHERE a.actor_type = \(bind: actorType.rawValue) AND a.actor_id = \(bind: actorID)
                  AND a.target_type = \(bind: targetType.rawValue) AND a.target_id = \(bind: targetID) AND a.inherited = \(bind: inherited)
                ORDER BY r.name
                """).all().map(Role.init(row:))
        }
    }

    /// The user's effective roles on a target: direct and group grants, on a project also the grants
    /// inherited from its domain and its parents, with implied roles added. Domain-specific roles only
    /// stand for the roles they imply, so they are left out.
    func effectiveRoles(userID: String, targetType: Assignment.TargetType, targetID: String,
                        in db: any SQLDatabase) async throws -> [AuthContext.Role] {
        try await heldRoles(userID: userID, targetType: targetType, targetID: targetID, in: db).filter(\.global).map(\.role)
    }

    /// The effective roles, domain-specific ones included (a trust checks its trustor still holds those).
    /// One recursive query, since it runs on every token issue and validation.
    func heldRoles(userID: String, targetType: Assignment.TargetType, targetID: String,
                   in db: any SQLDatabase) async throws -> [(role: AuthContext.Role, global: Bool)] {
        let actor: SQLQueryString = """
            ((a.actor_type = 'user' AND a.actor_id = \(bind: userID)) OR
             (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM identity_group_members WHERE user_id = \(bind: userID))))
            """
        // On a project: its own grants, and the inherited ones of each of its parents up to its domain (a
        // top-level project's parent). The walk up drives the lookups (CROSS JOIN fixes SQLite's order), so
        // a user with grants on many projects costs no more than one with a few.
        let granted: SQLQueryString = targetType != .project ? """
            granted(role_id) AS (
              SELECT a.role_id FROM identity_assignments a
              WHERE a.target_type = \(bind: targetType.rawValue) AND a.target_id = \(bind: targetID)
                AND a.inherited = \(bind: false) AND \(actor)
            ),
            """ : """
            targets(id, inherited) AS (
              SELECT CAST(\(bind: targetID) AS TEXT), \(bind: false)
              UNION ALL
              SELECT p.parent_id, \(bind: true) FROM identity_projects p JOIN targets t ON p.id = t.id WHERE p.parent_id IS NOT NULL
            ),
            granted(role_id) AS (
              SELECT a.role_id FROM targets t CROSS JOIN identity_assignments a
              WHERE a.target_type IN ('project', 'domain') AND a.target_id = t.id AND a.inherited = t.inherited AND \(actor)
            ),
            """
        return try await db.raw("""
            WITH RECURSIVE \(granted)
            effective(role_id) AS (
              SELECT role_id FROM granted
              UNION
              SELECT i.implied_role_id FROM identity_implied_roles i JOIN effective e ON i.prior_role_id = e.role_id
            )
            SELECT id, name, domain_id FROM identity_roles WHERE id IN (SELECT role_id FROM effective) ORDER BY name
            """).all().map { row in
                (AuthContext.Role(id: try row.string("id"), name: try row.string("name")), try row.string("domain_id").isEmpty)
            }
    }
}
