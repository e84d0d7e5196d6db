import Foundation
import MartletCore
import MartletStore
import SQLKit

/// The catalogue's queries. Container counters change in the same transaction as the object
/// row, so `HEAD` answers from one row and quotas read exact figures.
struct ObjectCatalog: Sendable {
    let db: Database

    // MARK: Accounts

    func account(_ account: String) async throws -> AccountRecord? {
        try await db.read { db in
            try await db.raw("SELECT created, meta FROM obj_accounts WHERE account = \(bind: account)").first().map { row in
                AccountRecord(account: account, created: try row.decode(column: "created", as: Int64.self),
                              meta: Headers(metaText: try row.decode(column: "meta", as: String.self)))
            }
        }
    }

    /// Counts over the account's containers: containers, objects, bytes.
    func usage(_ account: String) async throws -> (containers: Int64, objects: Int64, bytes: Int64) {
        try await db.read { db in
            let row = try await db.raw("""
                SELECT COUNT(*) AS n, CAST(COALESCE(SUM(object_count), 0) AS BIGINT) AS objects,
                  CAST(COALESCE(SUM(bytes_used), 0) AS BIGINT) AS bytes
                FROM obj_containers WHERE account = \(bind: account)
                """).first()
            return (try row?.decode(column: "n", as: Int64.self) ?? 0, try row?.decode(column: "objects", as: Int64.self) ?? 0,
                    try row?.decode(column: "bytes", as: Int64.self) ?? 0)
        }
    }

    /// Changes account metadata (made on first use): `change` edits the stored headers.
    func updateAccount(_ account: String, _ change: @Sendable (inout Headers) -> Void) async throws {
        try await db.transaction { db in
            let now = Micros.now()
            try await ensureAccount(account, now: now, in: db)
            let row = try await db.raw("SELECT meta FROM obj_accounts WHERE account = \(bind: account)").first()
            var meta = Headers(metaText: try row?.decode(column: "meta", as: String.self) ?? "{}")
            change(&meta)
            try await db.raw("UPDATE obj_accounts SET meta = \(bind: meta.metaText) WHERE account = \(bind: account)").run()
        }
    }

    private func ensureAccount(_ account: String, now: Micros, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO obj_accounts (account, created, meta) VALUES (\(bind: account), \(bind: now), '{}')
            ON CONFLICT (account) DO NOTHING
            """).run()
    }

    // MARK: Containers

    func container(_ account: String, _ name: String) async throws -> ContainerRecord? {
        try await db.read { try await container(account, name, in: $0) }
    }

    func container(_ account: String, _ name: String, in db: any SQLDatabase) async throws -> ContainerRecord? {
        try await db.raw("SELECT * FROM obj_containers WHERE account = \(bind: account) AND name = \(bind: name)")
            .first().map(ContainerRecord.init(row:))
    }

    /// Creates the container, or changes its metadata when it exists; true when it was created.
    func putContainer(_ account: String, _ name: String, _ change: @Sendable (inout Headers) -> Void) async throws -> Bool {
        try await db.transaction { db in
            let now = Micros.now()
            try await ensureAccount(account, now: now, in: db)
            if var existing = try await container(account, name, in: db) {
                change(&existing.meta)
                try await db.raw("""
                    UPDATE obj_containers SET meta = \(bind: existing.meta.metaText), modified = \(bind: now)
                    WHERE account = \(bind: account) AND name = \(bind: name)
                    """).run()
                return false
            }
            var meta = Headers()
            change(&meta)
            try await db.raw("""
                INSERT INTO obj_containers (account, name, created, modified, meta, object_count, bytes_used)
                VALUES (\(bind: account), \(bind: name), \(bind: now), \(bind: now), \(bind: meta.metaText), 0, 0)
                """).run()
            return true
        }
    }

    /// Changes an existing container's metadata; false when there is no such container.
    func updateContainer(_ account: String, _ name: String, _ change: @Sendable (inout Headers) -> Void) async throws -> Bool {
        try await db.transaction { db in
            guard var existing = try await container(account, name, in: db) else { return false }
            change(&existing.meta)
            try await db.raw("""
                UPDATE obj_containers SET meta = \(bind: existing.meta.metaText)
                WHERE account = \(bind: account) AND name = \(bind: name)
                """).run()
            return true
        }
    }

    enum DeleteOutcome { case deleted, notFound, notEmpty }

    func deleteContainer(_ account: String, _ name: String) async throws -> DeleteOutcome {
        try await reapExpired(account, name)
        return try await db.transaction { db in
            guard try await container(account, name, in: db) != nil else { return .notFound }
            let any = try await db.raw("SELECT name FROM obj_objects WHERE account = \(bind: account) AND container = \(bind: name) LIMIT 1").first()
            if any != nil { return .notEmpty }
            try await db.raw("DELETE FROM obj_containers WHERE account = \(bind: account) AND name = \(bind: name)").run()
            return .deleted
        }
    }

    func listContainers(_ account: String, _ query: ListQuery) async throws -> [Listed<ContainerRecord>] {
        let lister = Lister<ContainerRecord>(fetch: { lower, upper, descending, limit in
            try await db.read { db in
                try await db.raw(Self.range("SELECT * FROM obj_containers WHERE account = \(bind: account)", lower, upper, descending, limit))
                    .all().map(ContainerRecord.init(row:))
            }
        }, name: \.name)
        return try await lister.list(query)
    }

    // MARK: Objects

    func object(_ account: String, _ container: String, _ name: String) async throws -> ObjectRecord? {
        try await db.read { try await object(account, container, name, in: $0) }
    }

    func object(_ account: String, _ container: String, _ name: String, in db: any SQLDatabase) async throws -> ObjectRecord? {
        try await db.raw("""
            SELECT \(unsafeRaw: ObjectRecord.columns) FROM obj_objects
            WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)
            """).first().map(ObjectRecord.init(row:))
    }

    enum PutOutcome { case stored(replaced: ObjectRecord?), noContainer }

    /// Stores the object row, replacing any before it, and moves the container's counters.
    /// `check` sees the container inside the transaction (quotas) and may throw to refuse.
    /// `also` runs in the same transaction (a completed multipart upload drops its parts there).
    func putObject(_ record: ObjectRecord, check: @Sendable (ContainerRecord, ObjectRecord?) throws -> Void = { _, _ in },
                   also: @Sendable (any SQLDatabase) async throws -> Void = { _ in }) async throws -> PutOutcome {
        try await db.transaction { db in
            guard let container = try await container(record.account, record.container, in: db) else { return .noContainer }
            let old = try await object(record.account, record.container, record.name, in: db)
            try check(container, old)
            if old != nil {
                try await db.raw("""
                    UPDATE obj_objects SET size = \(bind: record.size), etag = \(bind: record.etag), content_type = \(bind: record.contentType),
                      modified = \(bind: record.modified), delete_at = \(bind: record.deleteAt), files = \(bind: record.filesText),
                      manifest = \(bind: record.manifest), symlink = \(bind: record.symlink), meta = \(bind: record.meta.metaText),
                      listing = \(bind: record.listingJSON)
                    WHERE account = \(bind: record.account) AND container = \(bind: record.container) AND name = \(bind: record.name)
                    """).run()
            } else {
                try await db.raw("""
                    INSERT INTO obj_objects (\(unsafeRaw: ObjectRecord.columns), listing) VALUES (\(bind: record.account), \(bind: record.container),
                      \(bind: record.name), \(bind: record.size), \(bind: record.etag), \(bind: record.contentType), \(bind: record.modified),
                      \(bind: record.deleteAt), \(bind: record.filesText), \(bind: record.manifest), \(bind: record.symlink),
                      \(bind: record.meta.metaText), \(bind: record.listingJSON))
                    """).run()
            }
            try await moveCounters(record.account, record.container, objects: old == nil ? 1 : 0, bytes: record.size - (old?.size ?? 0), in: db)
            try await also(db)
            return .stored(replaced: old)
        }
    }

    /// Changes an object's stored headers in place (POST); nil when it is not there.
    func updateObject(_ account: String, _ container: String, _ name: String,
                      _ change: @Sendable (inout ObjectRecord) throws -> Void) async throws -> ObjectRecord? {
        try await db.transaction { db in
            guard var record = try await object(account, container, name, in: db), !record.isExpired else { return nil }
            try change(&record)
            try await db.raw("""
                UPDATE obj_objects SET content_type = \(bind: record.contentType), delete_at = \(bind: record.deleteAt),
                  meta = \(bind: record.meta.metaText), listing = \(bind: record.listingJSON)
                WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)
                """).run()
            return record
        }
    }

    /// Removes the row and returns it (its files are the caller's to delete).
    func deleteObject(_ account: String, _ container: String, _ name: String) async throws -> ObjectRecord? {
        try await db.transaction { db in
            guard let old = try await object(account, container, name, in: db) else { return nil }
            try await db.raw("""
                DELETE FROM obj_objects WHERE account = \(bind: account) AND container = \(bind: container) AND name = \(bind: name)
                """).run()
            try await moveCounters(account, container, objects: -1, bytes: -old.size, in: db)
            return old
        }
    }

    private func moveCounters(_ account: String, _ container: String, objects: Int64, bytes: Int64, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE obj_containers SET object_count = object_count + \(bind: objects), bytes_used = bytes_used + \(bind: bytes)
            WHERE account = \(bind: account) AND name = \(bind: container)
            """).run()
    }

    /// A listing of live objects, each read as `Entry` (the columns it names, nothing more).
    func listObjects<Entry: ListingEntry>(_ account: String, _ container: String, _ query: ListQuery,
                                          as: Entry.Type = ObjectEntry.self) async throws -> [Listed<Entry>] {
        let now = Int64(Date().timeIntervalSince1970)
        let lister = Lister<Entry>(fetch: { lower, upper, descending, limit in
            try await db.read { db in
                try await db.raw(Self.range("""
                    SELECT \(unsafeRaw: Entry.columns) FROM obj_objects
                    WHERE account = \(bind: account) AND container = \(bind: container) AND (delete_at IS NULL OR delete_at > \(bind: now))
                    """, lower, upper, descending, limit)).all().map(Entry.init(row:))
            }
        }, name: \.name)
        return try await lister.list(query)
    }

    /// Every object of a container under `prefix` (a dynamic large object's segments), in order.
    func objects(_ account: String, _ container: String, prefix: String) async throws -> [ObjectRecord] {
        var found: [ObjectRecord] = []
        var after: String?
        while true {
            let lower = after.map { NameBound(name: $0, inclusive: false) } ?? (prefix.isEmpty ? nil : NameBound(name: prefix, inclusive: true))
            let upper = prefix.isEmpty ? nil : Names.successor(of: prefix).map { NameBound(name: $0, inclusive: false) }
            let batch = try await db.read { db in
                try await db.raw(Self.range("SELECT \(unsafeRaw: ObjectRecord.columns) FROM obj_objects WHERE account = \(bind: account) AND container = \(bind: container)",
                                            lower, upper, false, 1000)).all().map(ObjectRecord.init(row:))
            }
            found += batch.filter { !$0.isExpired }
            guard batch.count == 1000, let last = batch.last else { return found }
            after = last.name
        }
    }

    /// `base` plus the name bounds, order and limit.
    static func range(_ base: SQLQueryString, _ lower: NameBound?, _ upper: NameBound?, _ descending: Bool, _ limit: Int) -> SQLQueryString {
        var sql = base
        if let lower { sql += lower.inclusive ? " AND name >= \(bind: lower.name)" : " AND name > \(bind: lower.name)" }
        if let upper { sql += upper.inclusive ? " AND name <= \(bind: upper.name)" : " AND name < \(bind: upper.name)" }
        sql += descending ? " ORDER BY name DESC" : " ORDER BY name"
        sql += " LIMIT \(unsafeRaw: String(limit))"
        return sql
    }

    // MARK: Expiry

    /// Deletes expired objects (of one container, or everywhere) and returns their files.
    @discardableResult
    func reapExpired(_ account: String? = nil, _ container: String? = nil) async throws -> [String] {
        let now = Int64(Date().timeIntervalSince1970)
        var sql: SQLQueryString = "SELECT account, container, name FROM obj_objects WHERE delete_at IS NOT NULL AND delete_at <= \(bind: now)"
        if let account, let container { sql += " AND account = \(bind: account) AND container = \(bind: container)" }
        let expired = try await db.read { db in
            try await db.raw(sql + " LIMIT 1000").all().map {
                (try $0.decode(column: "account", as: String.self), try $0.decode(column: "container", as: String.self),
                 try $0.decode(column: "name", as: String.self))
            }
        }
        var files: [String] = []
        for (a, c, n) in expired {
            if let old = try await deleteObject(a, c, n), old.isExpired { files += old.files.map(\.file) }
        }
        return files
    }

    // MARK: Recovery

    /// Every file some object or multipart part points at.
    func referencedFiles() async throws -> Set<String> {
        try await db.read { db in
            var files = Set<String>()
            for row in try await db.raw("SELECT files FROM obj_objects WHERE files IS NOT NULL").all() {
                for piece in ObjectRecord.pieces(try row.decode(column: "files", as: String?.self)) { files.insert(piece.file) }
            }
            for row in try await db.raw("SELECT file FROM obj_parts").all() {
                files.insert(try row.decode(column: "file", as: String.self))
            }
            return files
        }
    }
}
