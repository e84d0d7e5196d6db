import MartletCore
import SQLKit

/// Group types, groups and group snapshots: documents keyed by ID with their project beside them.
extension BlockStorageStore {
    /// The tables these documents live in (fixed names: never from input).
    enum GroupTable: String {
        case types = "blk_group_types", groups = "blk_groups", snapshots = "blk_group_snapshots"
    }

    func groupDocs<T: Decodable & Sendable>(_ table: GroupTable, projectID: String?, in db: any SQLDatabase) async throws -> [T] {
        let query: SQLQueryString = projectID.map { "SELECT doc FROM \(unsafeRaw: table.rawValue) WHERE project_id = \(bind: $0) ORDER BY created_at, id" }
            ?? "SELECT doc FROM \(unsafeRaw: table.rawValue) ORDER BY created_at, id"
        return try decode(T.self, try await db.raw(query).all())
    }

    func groupDoc<T: Decodable & Sendable>(_ table: GroupTable, _ id: String, in db: any SQLDatabase) async throws -> T? {
        try decode(T.self, try await db.raw(forUpdate("SELECT doc FROM \(unsafeRaw: table.rawValue) WHERE id = \(bind: id)")).all()).first
    }

    func groupDoc<T: Decodable & Sendable>(_ table: GroupTable, _ id: String) async throws -> T? {
        try await db.read { try await groupDoc(table, id, in: $0) }
    }

    /// Writes the document, made or replaced.
    func saveGroupDoc(_ table: GroupTable, id: String, projectID: String, createdAt: Double, _ doc: some Encodable, in db: any SQLDatabase) async throws {
        let text = try encode(doc)
        try await db.raw("DELETE FROM \(unsafeRaw: table.rawValue) WHERE id = \(bind: id)").run()
        try await db.raw("""
            INSERT INTO \(unsafeRaw: table.rawValue) (id, project_id, created_at, doc) VALUES (\(bind: id), \(bind: projectID), \(bind: createdAt), \(bind: text))
            """).run()
    }

    func deleteGroupDoc(_ table: GroupTable, _ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM \(unsafeRaw: table.rawValue) WHERE id = \(bind: id)").run()
    }

    func save(_ t: GroupType, in db: any SQLDatabase) async throws { try await saveGroupDoc(.types, id: t.id, projectID: "", createdAt: t.createdAt, t, in: db) }
    func save(_ g: VolumeGroup, in db: any SQLDatabase) async throws {
        var g = g
        g.updatedAt = Self.now()
        try await saveGroupDoc(.groups, id: g.id, projectID: g.projectID, createdAt: g.createdAt, g, in: db)
    }
    func save(_ s: GroupSnapshot, in db: any SQLDatabase) async throws {
        try await saveGroupDoc(.snapshots, id: s.id, projectID: s.projectID, createdAt: s.createdAt, s, in: db)
    }

    func groupTypes(in db: any SQLDatabase) async throws -> [GroupType] { try await groupDocs(.types, projectID: nil, in: db) }

    /// The volumes of a group (a scan of the project's volumes: groups are small and few).
    func volumes(groupID: String, projectID: String, in db: any SQLDatabase) async throws -> [Volume] {
        try await volumes(projectID: projectID, in: db).filter { $0.groupID == groupID }
    }

    func snapshots(groupSnapshotID: String, projectID: String, in db: any SQLDatabase) async throws -> [Snapshot] {
        try await snapshots(projectID: projectID, in: db).filter { $0.groupSnapshotID == groupSnapshotID }
    }
}
