import Foundation
import MartletCore
import MartletStore
import SQLKit

/// The queries on servers. A server is written whole; the indexed columns follow its document.
struct ServerStore: Sendable {
    let db: Database

    static func encode(_ server: Server) throws -> String {
        String(decoding: try JSONEncoder().encode(server), as: UTF8.self)
    }

    static func decode(_ doc: String) throws -> Server {
        try JSONDecoder().decode(Server.self, from: Data(doc.utf8))
    }

    func get(_ id: String, in db: any SQLDatabase) async throws -> Server? {
        var query: SQLQueryString = "SELECT doc FROM cmp_servers WHERE id = \(bind: id)"
        if self.db.kind == .postgres { query += " FOR UPDATE" }
        guard let row = try await db.raw(query).first() else { return nil }
        return try Self.decode(try row.decode(column: "doc", as: String.self))
    }

    func get(_ id: String) async throws -> Server? {
        try await db.read { try await get(id, in: $0) }
    }

    func insert(_ s: Server, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO cmp_servers (id, project_id, user_id, name, vm_state, task_state, host, vcpus, memory_mb, created_at, updated_at, doc)
            VALUES (\(bind: s.id), \(bind: s.projectID), \(bind: s.userID), \(bind: s.name), \(bind: s.vmState.rawValue),
                    \(bind: s.taskState), \(bind: s.host), \(bind: s.flavor.vcpus), \(bind: s.flavor.ram), \(bind: s.createdAt),
                    \(bind: s.updatedAt), \(bind: try Self.encode(s)))
            """).run()
    }

    func update(_ s: Server, in db: any SQLDatabase) async throws {
        var s = s
        s.updatedAt = Date().timeIntervalSince1970
        try await db.raw("""
            UPDATE cmp_servers SET name = \(bind: s.name), vm_state = \(bind: s.vmState.rawValue), task_state = \(bind: s.taskState),
                host = \(bind: s.host), vcpus = \(bind: max(s.flavor.vcpus, s.oldFlavor?.vcpus ?? 0)),
                memory_mb = \(bind: max(s.flavor.ram, s.oldFlavor?.ram ?? 0)), updated_at = \(bind: s.updatedAt),
                doc = \(bind: try Self.encode(s))
            WHERE id = \(bind: s.id)
            """).run()
    }

    func delete(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_servers WHERE id = \(bind: id)").run()
        try await db.raw("DELETE FROM cmp_server_group_members WHERE server_id = \(bind: id)").run()
    }

    /// Servers matching the SQL part of a listing, newest first (Nova's default order).
    func list(_ condition: SQLQueryString, limit: Int?, in db: any SQLDatabase) async throws -> [Server] {
        var query: SQLQueryString = "SELECT doc FROM cmp_servers WHERE "
        query += condition
        query += " ORDER BY created_at DESC, id DESC"
        if let limit { query += " LIMIT \(unsafeRaw: String(limit))" as SQLQueryString }
        let docs = try await db.raw(query).all().map { try $0.decode(column: "doc", as: String.self) }
        return try await Self.decodeAll(docs)
    }

    /// Decodes documents on every core: a page of a thousand servers is mostly decoding.
    static func decodeAll(_ docs: [String]) async throws -> [Server] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard docs.count >= 64, cores > 1 else { return try docs.map(decode) }
        let size = (docs.count + cores - 1) / cores
        return try await withThrowingTaskGroup(of: (Int, [Server]).self) { group in
            for start in stride(from: 0, to: docs.count, by: size) {
                let slice = Array(docs[start..<min(start + size, docs.count)])
                group.addTask { (start, try slice.map(decode)) }
            }
            var parts: [(Int, [Server])] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    /// What a project uses of the quota'd resources.
    func usage(project: String, in db: any SQLDatabase) async throws -> (instances: Int, cores: Int, ram: Int) {
        let row = try await db.raw("""
            SELECT COUNT(*) AS n, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS cores, CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS ram
            FROM cmp_servers WHERE project_id = \(bind: project)
            """).first()
        return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "cores", as: Int.self) ?? 0,
                try row?.decode(column: "ram", as: Int.self) ?? 0)
    }
}
