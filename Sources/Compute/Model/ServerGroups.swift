import Foundation
import MartletCore
import SQLKit

/// A server group: servers the scheduler places by one policy.
struct ServerGroup: Sendable {
    var id, projectID, userID, name, policy: String
    var rules: [String: String]
    var members: [String]
    var createdAt: Double

    static let policies: Set<String> = ["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]

    func json(_ v: Microversion) -> JSON {
        var body: [String: JSON] = ["id": .string(id), "name": .string(name), "members": JSON(members)]
        if v >= Microversion(2, 64) {
            body["policy"] = .string(policy)
            body["rules"] = .object(rules.mapValues { Int($0).map { JSON($0) } ?? .string($0) })
        } else {
            body["policies"] = [.string(policy)]
            body["metadata"] = [:]
        }
        if v >= Microversion(2, 13) {
            body["project_id"] = .string(projectID)
            body["user_id"] = .string(userID)
        }
        return .object(body)
    }
}

/// The server-group queries.
struct ServerGroups: Sendable {
    func get(_ id: String, in db: any SQLDatabase) async throws -> ServerGroup? {
        guard let row = try await db.raw("SELECT * FROM cmp_server_groups WHERE id = \(bind: id)").first() else { return nil }
        return try await decode(row, in: db)
    }

    func list(_ condition: SQLQueryString, in db: any SQLDatabase) async throws -> [ServerGroup] {
        var query: SQLQueryString = "SELECT * FROM cmp_server_groups WHERE "
        query += condition
        query += " ORDER BY created_at, id"
        var groups: [ServerGroup] = []
        for row in try await db.raw(query).all() { groups.append(try await decode(row, in: db)) }
        return groups
    }

    func group(ofServer id: String, in db: any SQLDatabase) async throws -> ServerGroup? {
        guard let row = try await db.raw("SELECT group_id FROM cmp_server_group_members WHERE server_id = \(bind: id)").first() else { return nil }
        return try await get(try row.decode(column: "group_id", as: String.self), in: db)
    }

    func insert(_ g: ServerGroup, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO cmp_server_groups (id, project_id, user_id, name, policy, rules, created_at)
            VALUES (\(bind: g.id), \(bind: g.projectID), \(bind: g.userID), \(bind: g.name), \(bind: g.policy),
                    \(bind: String(decoding: try JSONEncoder().encode(g.rules), as: UTF8.self)), \(bind: g.createdAt))
            """).run()
    }

    func addMember(_ group: String, server: String, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO cmp_server_group_members (group_id, server_id) VALUES (\(bind: group), \(bind: server))").run()
    }

    func delete(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_server_group_members WHERE group_id = \(bind: id)").run()
        try await db.raw("DELETE FROM cmp_server_groups WHERE id = \(bind: id)").run()
    }

    private func decode(_ row: any SQLRow, in db: any SQLDatabase) async throws -> ServerGroup {
        let id = try row.decode(column: "id", as: String.self)
        let members = try await db.raw("SELECT server_id FROM cmp_server_group_members WHERE group_id = \(bind: id) ORDER BY server_id").all()
            .map { try $0.decode(column: "server_id", as: String.self) }
        return ServerGroup(id: id, projectID: try row.decode(column: "project_id", as: String.self),
                           userID: try row.decode(column: "user_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                           policy: try row.decode(column: "policy", as: String.self),
                           rules: try JSONDecoder().decode([String: String].self, from: Data(try row.decode(column: "rules", as: String.self).utf8)),
                           members: members, createdAt: try row.decode(column: "created_at", as: Double.self))
    }
}
