import MartletCore
import SQLKit

/// The queries on backups.
extension BlockStorageStore {
    func backup(_ id: String, in db: any SQLDatabase) async throws -> Backup? {
        try decode(Backup.self, try await db.raw(forUpdate("SELECT doc FROM blk_backups WHERE id = \(bind: id)")).all()).first
    }

    func backup(_ id: String) async throws -> Backup? { try await db.read { try await backup(id, in: $0) } }

    /// Backups of one project, or of all (nil), oldest first.
    func backups(projectID: String?, in db: any SQLDatabase) async throws -> [Backup] {
        let query: SQLQueryString = projectID.map { "SELECT doc FROM blk_backups WHERE project_id = \(bind: $0) ORDER BY created_at, id" }
            ?? "SELECT doc FROM blk_backups ORDER BY created_at, id"
        return try decode(Backup.self, try await db.raw(query).all())
    }

    func backups(status: [String]) async throws -> [Backup] {
        try await db.read { db in
            try decode(Backup.self, try await db.raw("SELECT doc FROM blk_backups WHERE status IN \(SQLQueryString.list(status))").all())
        }
    }

    /// The incremental backups made on top of this one.
    func backups(parentID: String, in db: any SQLDatabase) async throws -> [Backup] {
        try decode(Backup.self, try await db.raw("SELECT doc FROM blk_backups WHERE parent_id = \(bind: parentID)").all())
    }

    /// The volume's newest backup that holds data, the parent of an incremental one.
    func latestBackup(volumeID: String, in db: any SQLDatabase) async throws -> Backup? {
        try decode(Backup.self, try await db.raw("""
            SELECT doc FROM blk_backups WHERE volume_id = \(bind: volumeID) AND status = 'available' ORDER BY created_at DESC, id LIMIT 1
            """).all()).first
    }

    func insert(_ b: Backup, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO blk_backups (id, project_id, volume_id, parent_id, status, created_at, doc)
            VALUES (\(bind: b.id), \(bind: b.projectID), \(bind: b.volumeID), \(bind: b.parentID), \(bind: b.status), \(bind: b.createdAt),
                    \(bind: try encode(b)))
            """).run()
    }

    func update(_ b: Backup, in db: any SQLDatabase) async throws {
        var b = b
        b.updatedAt = Self.now()
        try await db.raw("UPDATE blk_backups SET status = \(bind: b.status), doc = \(bind: try encode(b)) WHERE id = \(bind: b.id)").run()
    }

    func deleteBackup(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_backups WHERE id = \(bind: id)").run()
    }

    @discardableResult
    func editBackup(_ id: String, _ change: @Sendable (inout Backup) throws -> Void) async throws -> Backup? {
        try await db.transaction { db in
            guard var backup = try await backup(id, in: db) else { return nil }
            try change(&backup)
            try await update(backup, in: db)
            return backup
        }
    }
}
