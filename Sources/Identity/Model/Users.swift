import Foundation
import MartletCore
import SQLKit

struct User: Sendable {
    var id: String
    var domainID: String
    var name: String
    var enabled: Bool
    var defaultProjectID: String?
    var passwordHash: String?
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        var fields: [String: JSON] = [
            "id": .string(id), "name": .string(name), "domain_id": .string(domainID), "enabled": .bool(enabled),
            "password_expires_at": nil, "options": [:], "links": store.link("users", id),
        ]
        if let defaultProjectID { fields["default_project_id"] = .string(defaultProjectID) }
        return JSON.object(extra).merging(fields)
    }
}

extension User {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        domainID = try row.string("domain_id")
        name = try row.string("name")
        enabled = try row.bool("enabled")
        defaultProjectID = try row.optionalString("default_project_id")
        passwordHash = try row.optionalString("password_hash")
        extra = try row.extras()
    }
}

extension IdentityStore {
    private static let userColumns = "id, domain_id, name, enabled, default_project_id, password_hash, extra"

    func user(_ id: String, in db: any SQLDatabase) async throws -> User? {
        try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE id = \(bind: id)").first().map(User.init(row:))
    }

    func requireUser(_ id: String) async throws -> User {
        guard let user = try await read({ try await user(id, in: $0) }) else { throw APIError.notFound("Could not find user: \(id).") }
        return user
    }

    func user(named name: String, domainID: String, in db: any SQLDatabase) async throws -> User? {
        try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE domain_id = \(bind: domainID) AND name = \(bind: name)")
            .first().map(User.init(row:))
    }

    func allUsers(domainID: String?) async throws -> [User] {
        try await read { db in
            if let domainID {
                return try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM identity_users WHERE domain_id = \(bind: domainID) ORDER BY name").all().map(User.init(row:))
            }
            return try await db.raw("SELECT \(unsafeRaw: Self.userColumns) FROM identity_users ORDER BY name").all().map(User.init(row:))
        }
    }

    func insert(_ u: User, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_users (id, domain_id, name, enabled, default_project_id, password_hash, password_changed_at, extra, created_at)
            VALUES (\(bind: u.id), \(bind: u.domainID), \(bind: u.name), \(bind: u.enabled), \(bind: u.defaultProjectID),
                    \(bind: u.passwordHash), \(bind: now()), \(bind: u.extra.columnText), \(bind: now()))
            """).run()
    }

    func update(_ u: User, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_users SET name = \(bind: u.name), enabled = \(bind: u.enabled),
              default_project_id = \(bind: u.defaultProjectID), extra = \(bind: u.extra.columnText) WHERE id = \(bind: u.id)
            """).run()
    }

    /// Stores a new password hash and revokes every token the user held.
    func setPassword(userID: String, hash: String, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE identity_users SET password_hash = \(bind: hash), password_changed_at = \(bind: now()) WHERE id = \(bind: userID)").run()
        try await revoke(userID: userID, in: db)
    }

    func deleteUser(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_assignments WHERE actor_type = 'user' AND actor_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_users WHERE id = \(bind: id)").run()
        try await deleteTrusts(ofUser: id, in: db)
        try await revoke(userID: id, in: db)
    }

    /// The projects (or domains) the user holds any role on, directly or through a group; for
    /// projects also those below a grant inherited to projects (OS-INHERIT), as Keystone lists them.
    func targetIDs(ofUser userID: String, type: Assignment.TargetType, in db: any SQLDatabase) async throws -> [String] {
        let actor: SQLQueryString = """
            ((a.actor_type = 'user' AND a.actor_id = \(bind: userID)) OR
             (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM identity_group_members WHERE user_id = \(bind: userID))))
            """
        let direct: SQLQueryString = """
            SELECT DISTINCT a.target_id FROM identity_assignments a
            WHERE a.target_type = \(bind: type.rawValue) AND a.inherited = \(bind: false) AND \(actor)
            """
        guard type == .project else { return try await db.raw(direct).all().map { try $0.string("target_id") } }
        return try await db.raw("""
            WITH RECURSIVE below(id) AS (
              SELECT p.id FROM identity_projects p WHERE p.is_domain = \(bind: false) AND p.parent_id IN (
                SELECT a.target_id FROM identity_assignments a
                WHERE a.target_type IN ('project', 'domain') AND a.inherited = \(bind: true) AND \(actor))
              UNION
              SELECT p.id FROM identity_projects p JOIN below b ON p.parent_id = b.id
            )
            \(direct) UNION SELECT id FROM below
            """).all().map { try $0.string("target_id") }
    }
}
