import Foundation
import SQLKit

/// One step of a service's schema history. Steps are applied once, in order, each in a transaction,
/// so a database from any older version upgrades in place. Never edit a released step: add one.
public struct Migration: Sendable {
    /// Unique and stable, e.g. `identity-0001`.
    public let id: String
    /// Plain SQL for both engines. `BYTEWISE_TEXT` stands for a text column that compares byte by
    /// byte (UTF-8 order): `TEXT` on SQLite, `TEXT COLLATE "C"` on PostgreSQL. `SQLITE_WITHOUT_ROWID`
    /// after a table keeps its rows in primary-key order on SQLite (range scans read no second
    /// b-tree) and means nothing on PostgreSQL.
    public let statements: [String]

    public init(_ id: String, _ statements: [String]) {
        self.id = id
        self.statements = statements
    }
}

extension Database {
    /// Applies the steps not yet recorded; returns the IDs it applied.
    @discardableResult
    public func migrate(_ migrations: [Migration]) async throws -> [String] {
        try await transaction { db in
            try await db.raw("CREATE TABLE IF NOT EXISTS martlet_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)").run()
        }
        var applied: [String] = []
        for migration in migrations {
            let done = try await transaction { db -> Bool in
                if kind == .postgres {
                    // Several API processes may start at once: one migrates, the others wait. The lock is
                    // the schema's, so clouds in other schemas of the database do not wait for it.
                    try await db.raw("SELECT pg_advisory_xact_lock(7405132, hashtext(current_schema()))").run()
                }
                let exists = try await db.raw("SELECT id FROM martlet_migrations WHERE id = \(bind: migration.id)").first()
                if exists != nil { return true }
                for statement in migration.statements {
                    let sql = statement.replacingOccurrences(of: "BYTEWISE_TEXT", with: kind == .postgres ? "TEXT COLLATE \"C\"" : "TEXT")
                        .replacingOccurrences(of: "SQLITE_WITHOUT_ROWID", with: kind == .postgres ? "" : "WITHOUT ROWID")
                    do { try await db.raw(SQLQueryString(sql)).run() } catch {
                        throw StoreError.migration("migration \(migration.id) failed: \(String(reflecting: error))")
                    }
                }
                try await db.raw("INSERT INTO martlet_migrations (id, applied_at) VALUES (\(bind: migration.id), \(bind: Date().ISO8601Format()))").run()
                return false
            }
            if !done { applied.append(migration.id) }
        }
        return applied
    }

    public func appliedMigrations() async throws -> [String] {
        try await read { db in
            try await db.raw("SELECT id FROM martlet_migrations ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
        }
    }
}
