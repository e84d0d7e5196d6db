import Foundation
import MartletCore
import SQLKit

struct Group: Sendable {
    var id: String
    var domainID: String
    var name: String
    var description: String
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging([
            "id": .string(id), "name": .string(name), "domain_id": .string(domainID),
            "description": .string(description), "links": store.link("groups", id),
        ])
    }
}

extension Group {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        domainID = try row.string("domain_id")
        name = try row.string("name")
        description = try row.string("description")
        extra = try row.extras()
    }
}

extension IdentityStore {
    private static let groupColumns = "id, domain_id, name, description, extra"

    func group(_ id: String, in db: any SQLDatabase) async throws -> Group? {
        try await db.raw("SELECT \(unsafeRaw: Self.groupColumns) FROM identity_groups WHERE id = \(bind: id)").first().map(Group.init(row:))
    }

    func requireGroup(_ id: String) async throws -> Group {
        guard let g = try await read({ try await group(id, in: $0) }) else { throw APIError.notFound("Could not find group: \(id).") }
        return g
    }

    func group(named name: String, domainID: String, in db: any SQLDatabase) async throws -> Group? {
        try await db.raw("SELECT \(unsafeRaw: Self.groupColumns) FROM identity_groups WHERE domain_id = \(bind: domainID) AND name = \(bind: name)")
            .first().map(Group.init(row:))
    }

    func allGroups() async throws -> [Group] {
        try await read { try await $0.raw("SELECT \(unsafeRaw: Self.groupColumns) FROM identity_groups ORDER BY name").all().map(Group.init(row:)) }
    }

    func groups(ofUser userID: String) async throws -> [Group] {
        try await read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.groupColumns) FROM identity_groups
                WHERE id IN (SELECT group_id FROM identity_group_members WHERE user_id = \(bind: userID)) ORDER BY name
                """).all().map(Group.init(row:))
        }
    }

    func members(ofGroup groupID: String) async throws -> [User] {
        try await read { db in
            try await db.raw("""
                SELECT id, domain_id, name, enabled, default_project_id, password_hash, extra FROM identity_users
                WHERE id IN (SELECT user_id FROM identity_group_members WHERE group_id = \(bind: groupID)) ORDER BY name
                """).all().map(User.init(row:))
        }
    }

    func isMember(userID: String, groupID: String) async throws -> Bool {
        try await read { db in
            try await db.raw("SELECT user_id FROM identity_group_members WHERE group_id = \(bind: groupID) AND user_id = \(bind: userID)").first() != nil
        }
    }

    func memberships(in db: any SQLDatabase) async throws -> [(group: String, user: String)] {
        try await db.raw("SELECT group_id, user_id FROM identity_group_members").all()
            .map { (group: try $0.string("group_id"), user: try $0.string("user_id")) }
    }

    func addMember(userID: String, groupID: String, in db: any SQLDatabase) async throws {
        guard try await db.raw("SELECT user_id FROM identity_group_members WHERE group_id = \(bind: groupID) AND user_id = \(bind: userID)").first() == nil else { return }
        try await db.raw("INSERT INTO identity_group_members (group_id, user_id) VALUES (\(bind: groupID), \(bind: userID))").run()
    }

    func removeMember(userID: String, groupID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_group_members WHERE group_id = \(bind: groupID) AND user_id = \(bind: userID)").run()
    }

    func insert(_ g: Group, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_groups (id, domain_id, name, description, extra)
            VALUES (\(bind: g.id), \(bind: g.domainID), \(bind: g.name), \(bind: g.description), \(bind: g.extra.columnText))
            """).run()
    }

    func update(_ g: Group, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_groups SET name = \(bind: g.name), description = \(bind: g.description),
              extra = \(bind: g.extra.columnText) WHERE id = \(bind: g.id)
            """).run()
    }

    func deleteGroup(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_assignments WHERE actor_type = 'group' AND actor_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_groups WHERE id = \(bind: id)").run()
    }
}
