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

    /// The API path of this grant, used for `links.assignment`.
    func path(roleID: String? = nil) -> String {
        let role = roleID ?? self.roleID
        switch targetType {
        case .system: return "system/\(actorType.rawValue)s/\(actorID)/roles/\(role)"
        default: return "\(targetType.rawValue)s/\(targetID)/\(actorType.rawValue)s/\(actorID)/roles/\(role)"
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
    }
}

extension IdentityStore {
    func assignments(in db: any SQLDatabase) async throws -> [Assignment] {
        try await db.raw("SELECT actor_type, actor_id, target_type, target_id, role_id FROM identity_assignments WHERE inherited = \(bind: false)")
            .all().map(Assignment.init(row:))
    }

    func grantExists(_ a: Assignment, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            SELECT role_id FROM identity_assignments WHERE actor_type = \(bind: a.actorType.rawValue) AND actor_id = \(bind: a.actorID)
              AND target_type = \(bind: a.targetType.rawValue) AND target_id = \(bind: a.targetID) AND role_id = \(bind: a.roleID)
              AND inherited = \(bind: false)
            """).first() != nil
    }

    func grant(_ a: Assignment, in db: any SQLDatabase) async throws {
        guard try await !grantExists(a, in: db) else { return }
        try await db.raw("""
            INSERT INTO identity_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited)
            VALUES (\(bind: a.actorType.rawValue), \(bind: a.actorID), \(bind: a.targetType.rawValue), \(bind: a.targetID), \(bind: a.roleID), \(bind: false))
            """).run()
    }

    func revokeGrant(_ a: Assignment, in db: any SQLDatabase) async throws {
        try await db.raw("""
            DELETE FROM identity_assignments WHERE actor_type = \(bind: a.actorType.rawValue) AND actor_id = \(bind: a.actorID)
              AND target_type = \(bind: a.targetType.rawValue) AND target_id = \(bind: a.targetID) AND role_id = \(bind: a.roleID)
            """).run()
    }

    /// Roles granted directly to the actor on the target.
    func grantedRoles(actorType: Assignment.ActorType, actorID: String, targetType: Assignment.TargetType, targetID: String) async throws -> [Role] {
        try await read { db in
            try await db.raw("""
                SELECT r.id, r.name, r.domain_id, r.description, r.extra FROM identity_roles r
                JOIN identity_assignments a ON a.role_id = r.id
                WHERE a.actor_type = \(bind: actorType.rawValue) AND a.actor_id = \(bind: actorID)
                  AND a.target_type = \(bind: targetType.rawValue) AND a.target_id = \(bind: targetID) AND a.inherited = \(bind: false)
                ORDER BY r.name
                """).all().map(Role.init(row:))
        }
    }

    /// The user's effective roles on a target: direct and group grants, with implied roles added.
    /// One recursive query, since it runs on every token issue and validation.
    func effectiveRoles(userID: String, targetType: Assignment.TargetType, targetID: String, in db: any SQLDatabase) async throws -> [AuthContext.Role] {
        try await db.raw("""
            WITH RECURSIVE effective(role_id) AS (
              SELECT a.role_id FROM identity_assignments a
              WHERE a.target_type = \(bind: targetType.rawValue) AND a.target_id = \(bind: targetID) AND a.inherited = \(bind: false)
                AND ((a.actor_type = 'user' AND a.actor_id = \(bind: userID)) OR
                     (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM identity_group_members WHERE user_id = \(bind: userID))))
              UNION
              SELECT i.implied_role_id FROM identity_implied_roles i JOIN effective e ON i.prior_role_id = e.role_id
            )
            SELECT id, name FROM identity_roles WHERE id IN (SELECT role_id FROM effective) AND domain_id = '' ORDER BY name
            """).all().map { AuthContext.Role(id: try $0.string("id"), name: try $0.string("name")) }
    }
}
