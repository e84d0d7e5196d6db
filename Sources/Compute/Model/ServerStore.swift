import Foundation
import MartletCore
import MartletStore
import SQLKit
import Synchronization

/// The queries on servers. A server is written whole; the indexed columns follow its document.
struct ServerStore: Sendable {
    let db: Database
    let decoded = DecodedServers()

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
        return try decode(id: id, try row.decode(column: "doc", as: String.self))
    }

    /// The server a stored document holds, decoded once per version of the document.
    private func decode(id: String, _ doc: String) throws -> Server {
        if let known = decoded.server(id: id, doc: doc) { return known }
        let server = try Self.decode(doc)
        decoded.remember(server, doc: doc)
        return server
    }

    func get(_ id: String) async throws -> Server? {
        try await db.read { try await get(id, in: $0) }
    }

    func insert(_ s: Server, in db: any SQLDatabase) async throws {
        let doc = try Self.encode(s)
        try await db.raw("""
            INSERT INTO cmp_servers (id, project_id, user_id, name, vm_state, task_state, host, vcpus, memory_mb, created_at, updated_at, doc)
            VALUES (\(bind: s.id), \(bind: s.projectID), \(bind: s.userID), \(bind: s.name), \(bind: s.vmState.rawValue),
                    \(bind: s.taskState?.rawValue), \(bind: s.host), \(bind: s.flavor.vcpus), \(bind: s.flavor.ram), \(bind: s.createdAt),
                    \(bind: s.updatedAt), \(bind: doc))
            """).run()
        decoded.remember(s, doc: doc)
    }

    func update(_ s: Server, in db: any SQLDatabase) async throws {
        var s = s
        s.updatedAt = Date().timeIntervalSince1970
        let doc = try Self.encode(s)
        try await db.raw("""
            UPDATE cmp_servers SET name = \(bind: s.name), vm_state = \(bind: s.vmState.rawValue), task_state = \(bind: s.taskState?.rawValue),
                host = \(bind: s.host), vcpus = \(bind: max(s.flavor.vcpus, s.oldFlavor?.vcpus ?? 0)),
                memory_mb = \(bind: max(s.flavor.ram, s.oldFlavor?.ram ?? 0)), updated_at = \(bind: s.updatedAt),
                doc = \(bind: doc)
            WHERE id = \(bind: s.id)
            """).run()
        decoded.remember(s, doc: doc)
    }

    func delete(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_servers WHERE id = \(bind: id)").run()
        try await db.raw("DELETE FROM cmp_server_group_members WHERE server_id = \(bind: id)").run()
        decoded.forget(id)
    }

    /// Servers matching the SQL part of a listing, newest first (Nova's default order).
    func list(_ condition: SQLQueryString, limit: Int?, in db: any SQLDatabase) async throws -> [Server] {
        var query: SQLQueryString = "SELECT id, doc FROM cmp_servers WHERE "
        query += condition
        query += " ORDER BY created_at DESC, id DESC"
        if let limit { query += " LIMIT \(unsafeRaw: String(limit))" as SQLQueryString }
        let rows = try await db.raw(query).all().map {
            (id: try $0.decode(column: "id", as: String.self), doc: try $0.decode(column: "doc", as: String.self))
        }
        return try await decodeAll(rows)
    }

    /// Decodes documents on every core: a page of a thousand servers not seen before is mostly decoding.
    private func decodeAll(_ rows: [(id: String, doc: String)]) async throws -> [Server] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard rows.count >= 64, cores > 1 else { return try rows.map { try decode(id: $0.id, $0.doc) } }
        let size = (rows.count + cores - 1) / cores
        return try await withThrowingTaskGroup(of: (Int, [Server]).self) { group in
            for start in stride(from: 0, to: rows.count, by: size) {
                let slice = Array(rows[start..<min(start + size, rows.count)])
                group.addTask { (start, try slice.map { try decode(id: $0.id, $0.doc) }) }
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

/// Servers as last decoded or written, each with its document's hash: a read whose document hashes
/// the same takes the server from here instead of decoding it again. The hash is checked on every
/// read, so an entry from a rolled-back write or another process's change is never used (String's
/// hash is seeded per process, so no document can be made to collide on purpose).
final class DecodedServers: Sendable {
    private struct Entry {
        let docHash: Int
        let server: Server
    }
    private let entries = Mutex<[String: Entry]>([:])
    /// Bounds the memory: past this many servers the cache starts again empty.
    private let capacity = 50_000

    func server(id: String, doc: String) -> Server? {
        let hash = doc.hashValue
        return entries.withLock { $0[id] }.flatMap { $0.docHash == hash ? $0.server : nil }
    }

    func remember(_ server: Server, doc: String) {
        let entry = Entry(docHash: doc.hashValue, server: server)
        entries.withLock { entries in
            if entries.count >= capacity, entries[server.id] == nil { entries.removeAll(keepingCapacity: true) }
            entries[server.id] = entry
        }
    }

    func forget(_ id: String) { _ = entries.withLock { $0.removeValue(forKey: id) } }
}
