import Foundation
import MartletCore
import SQLKit

/// The record of server moves (`os-migrations`, `/servers/{id}/migrations`).
struct Migrations: Sendable {
    struct Record: Sendable {
        var id: Int, uuid: String, serverID: String, projectID: String, userID: String
        var kind: String, status: String, source: String?, destination: String?
        var oldFlavor: String?, newFlavor: String?
        var createdAt: Double, updatedAt: Double

        func json(_ v: Microversion) -> JSON {
            var body: [String: JSON] = [
                "id": JSON(id), "status": .string(status), "instance_uuid": .string(serverID),
                "source_node": JSON(source), "source_compute": JSON(source), "dest_node": JSON(destination),
                "dest_compute": JSON(destination), "dest_host": JSON(destination.map { _ in "127.0.0.1" }),
                "old_instance_type_id": nil, "new_instance_type_id": nil,
                "created_at": .string(NovaTime.precise(createdAt)), "updated_at": .string(NovaTime.precise(updatedAt)),
            ]
            if v >= Microversion(2, 23) { body["migration_type"] = .string(kind) }
            if v >= Microversion(2, 59) { body["uuid"] = .string(uuid) }
            if v >= Microversion(2, 80) { body["project_id"] = .string(projectID); body["user_id"] = .string(userID) }
            return .object(body)
        }
    }

    func create(server: Server, kind: String, in db: any SQLDatabase) async throws -> String {
        let id = (try await db.raw("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS n FROM cmp_migrations").first()?.decode(column: "n", as: Int.self) ?? 0) + 1
        let uuid = Identifier.uuid()
        let now = Date().timeIntervalSince1970
        try await db.raw("""
            INSERT INTO cmp_migrations (id, uuid, server_id, project_id, user_id, kind, status, source_host, dest_host, old_flavor, new_flavor,
                created_at, updated_at)
            VALUES (\(bind: id), \(bind: uuid), \(bind: server.id), \(bind: server.projectID), \(bind: server.userID), \(bind: kind),
                'migrating', \(bind: server.host), NULL, \(bind: server.oldFlavor?.id), \(bind: server.flavor.id), \(bind: now), \(bind: now))
            """).run()
        return uuid
    }

    func setStatus(_ uuid: String, _ status: String, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE cmp_migrations SET status = \(bind: status), updated_at = \(bind: Date().timeIntervalSince1970) WHERE uuid = \(bind: uuid)").run()
    }

    func setDestination(_ uuid: String, _ host: String, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE cmp_migrations SET dest_host = \(bind: host), updated_at = \(bind: Date().timeIntervalSince1970) WHERE uuid = \(bind: uuid)").run()
    }

    func list(_ condition: SQLQueryString, in db: any SQLDatabase) async throws -> [Record] {
        var query: SQLQueryString = "SELECT * FROM cmp_migrations WHERE "
        query += condition
        query += " ORDER BY created_at DESC, id DESC"
        return try await db.raw(query).all().map { row in
            Record(id: try row.decode(column: "id", as: Int.self), uuid: try row.decode(column: "uuid", as: String.self),
                   serverID: try row.decode(column: "server_id", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                   userID: try row.decode(column: "user_id", as: String.self), kind: try row.decode(column: "kind", as: String.self),
                   status: try row.decode(column: "status", as: String.self), source: try row.decode(column: "source_host", as: String?.self),
                   destination: try row.decode(column: "dest_host", as: String?.self), oldFlavor: try row.decode(column: "old_flavor", as: String?.self),
                   newFlavor: try row.decode(column: "new_flavor", as: String?.self), createdAt: try row.decode(column: "created_at", as: Double.self),
                   updatedAt: try row.decode(column: "updated_at", as: Double.self))
        }
    }
}
