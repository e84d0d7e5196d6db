import Foundation
import MartletCore
import SQLKit

struct Role: Sendable {
    var id: String
    var name: String
    /// Empty for global roles.
    var domainID: String
    var description: String
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging([
            "id": .string(id), "name": .string(name), "domain_id": domainID.isEmpty ? nil : .string(domainID),
            "description": .string(description), "options": [:], "links": store.link("roles", id),
        ])
    }

    /// The short form used inside role inferences.
    func summaryJSON(_ store: IdentityStore) -> JSON {
        ["id": .string(id), "name": .string(name), "links": store.link("roles", id)]
    }
}

extension Role {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        name = try row.string("name")
        domainID = try row.string("domain_id")
        description = try row.string("description")
        extra = try row.extras()
    }
}

extension IdentityStore {
    private static let roleColumns = "id, name, domain_id, description, extra"

    func role(_ id: String, in db: any SQLDatabase) async throws -> Role? {
        try await db.raw("SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles WHERE id = \(bind: id)").first().map(Role.init(row:))
    }

    func requireRole(_ id: String, in db: any SQLDatabase) async throws -> Role {
        guard let role = try await role(id, in: db) else { throw APIError.notFound("Could not find role: \(id).") }
        return role
    }

    func requireRole(_ id: String) async throws -> Role { try await read { try await requireRole(id, in: $0) } }

    func role(named name: String, domainID: String = "", in db: any SQLDatabase) async throws -> Role? {
        try await db.raw("SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles WHERE name = \(bind: name) AND domain_id = \(bind: domainID)")
            .first().map(Role.init(row:))
    }

    func allRoles() async throws -> [Role] {
        try await read { try await $0.raw("SELECT \(unsafeRaw: Self.roleColumns) FROM identity_roles ORDER BY name").all().map(Role.init(row:)) }
    }

    func insert(_ r: Role, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_roles (id, name, domain_id, description, extra)
            VALUES (\(bind: r.id), \(bind: r.name), \(bind: r.domainID), \(bind: r.description), \(bind: r.extra.columnText))
            """).run()
    }

    func update(_ r: Role, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_roles SET name = \(bind: r.name), description = \(bind: r.description),
              extra = \(bind: r.extra.columnText) WHERE id = \(bind: r.id)
            """).run()
    }

    func deleteRole(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_assignments WHERE role_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_implied_roles WHERE prior_role_id = \(bind: id) OR implied_role_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_roles WHERE id = \(bind: id)").run()
    }

    // MARK: Implied roles

    /// Every `prior → implied` rule.
    func inferenceRules(in db: any SQLDatabase) async throws -> [(prior: String, implied: String)] {
        try await db.raw("SELECT prior_role_id, implied_role_id FROM identity_implied_roles ORDER BY prior_role_id, implied_role_id").all()
            .map { (try $0.string("prior_role_id"), try $0.string("implied_role_id")) }
    }

    func inferenceExists(prior: String, implied: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT prior_role_id FROM identity_implied_roles WHERE prior_role_id = \(bind: prior) AND implied_role_id = \(bind: implied)").first() != nil
    }

    func addInference(prior: String, implied: String, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO identity_implied_roles (prior_role_id, implied_role_id) VALUES (\(bind: prior), \(bind: implied))").run()
    }

    func removeInference(prior: String, implied: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_implied_roles WHERE prior_role_id = \(bind: prior) AND implied_role_id = \(bind: implied)").run()
    }
}
