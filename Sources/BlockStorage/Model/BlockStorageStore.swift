import Foundation
import MartletCore
import MartletStore
import SQLKit

/// Every query Block Storage makes. Volumes, snapshots and types are JSON documents; the columns
/// beside them are what queries select on.
struct BlockStorageStore: Sendable {
    let db: Database

    static func now() -> Double { Date().timeIntervalSince1970 }

    func encode(_ value: some Encodable) throws -> String { String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }
    func decode<T: Decodable>(_ type: T.Type, _ rows: [any SQLRow]) throws -> [T] {
        try rows.map { try JSONDecoder().decode(T.self, from: Data(try $0.decode(column: "doc", as: String.self).utf8)) }
    }
    func forUpdate(_ query: SQLQueryString) -> SQLQueryString {
        db.kind == .postgres ? query + " FOR UPDATE" : query
    }

    // MARK: Volumes

    func volume(_ id: String, in db: any SQLDatabase) async throws -> Volume? {
        try decode(Volume.self, try await db.raw(forUpdate("SELECT doc FROM blk_volumes WHERE id = \(bind: id)")).all()).first
    }

    func volume(_ id: String) async throws -> Volume? { try await db.read { try await volume(id, in: $0) } }

    /// Volumes of one project, or of all (nil), oldest first.
    func volumes(projectID: String?, in db: any SQLDatabase) async throws -> [Volume] {
        let query: SQLQueryString = projectID.map { "SELECT doc FROM blk_volumes WHERE project_id = \(bind: $0) ORDER BY created_at, id" }
            ?? "SELECT doc FROM blk_volumes ORDER BY created_at, id"
        let rows = try await db.raw(query).all()
        return try decode(Volume.self, rows)
    }

    /// Which of `ids` are volumes.
    func volumeIDs(among ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try await db.read { db in
            Set(try await db.raw("SELECT id FROM blk_volumes WHERE id IN \(SQLQueryString.list(ids))").all().map { try $0.decode(column: "id", as: String.self) })
        }
    }

    func volumes(status: [String]) async throws -> [Volume] {
        try await db.read { db in
            try decode(Volume.self, try await db.raw("SELECT doc FROM blk_volumes WHERE status IN \(SQLQueryString.list(status))").all())
        }
    }

    func insert(_ v: Volume, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO blk_volumes (id, project_id, status, created_at, doc)
            VALUES (\(bind: v.id), \(bind: v.projectID), \(bind: v.status), \(bind: v.createdAt), \(bind: try encode(v)))
            """).run()
    }

    func update(_ v: Volume, in db: any SQLDatabase) async throws {
        var v = v
        v.updatedAt = Self.now()
        try await db.raw("UPDATE blk_volumes SET status = \(bind: v.status), doc = \(bind: try encode(v)) WHERE id = \(bind: v.id)").run()
    }

    /// Writes a volume that changed project (an accepted transfer): its owner column follows.
    func updateOwner(_ v: Volume, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE blk_volumes SET project_id = \(bind: v.projectID) WHERE id = \(bind: v.id)").run()
        try await update(v, in: db)
    }

    func updateOwner(_ s: Snapshot, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE blk_snapshots SET project_id = \(bind: s.projectID) WHERE id = \(bind: s.id)").run()
        try await update(s, in: db)
    }

    func deleteVolume(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_volumes WHERE id = \(bind: id)").run()
    }

    /// Reads, changes and writes a volume in one transaction; nil when it is gone.
    @discardableResult
    func editVolume(_ id: String, _ change: @Sendable (inout Volume) throws -> Void) async throws -> Volume? {
        try await db.transaction { db in
            guard var volume = try await volume(id, in: db) else { return nil }
            try change(&volume)
            try await update(volume, in: db)
            return volume
        }
    }

    // MARK: Snapshots

    func snapshot(_ id: String, in db: any SQLDatabase) async throws -> Snapshot? {
        try decode(Snapshot.self, try await db.raw(forUpdate("SELECT doc FROM blk_snapshots WHERE id = \(bind: id)")).all()).first
    }

    func snapshot(_ id: String) async throws -> Snapshot? { try await db.read { try await snapshot(id, in: $0) } }

    func snapshots(projectID: String?, in db: any SQLDatabase) async throws -> [Snapshot] {
        let query: SQLQueryString = projectID.map { "SELECT doc FROM blk_snapshots WHERE project_id = \(bind: $0) ORDER BY created_at, id" }
            ?? "SELECT doc FROM blk_snapshots ORDER BY created_at, id"
        let rows = try await db.raw(query).all()
        return try decode(Snapshot.self, rows)
    }

    func snapshots(volumeID: String, in db: any SQLDatabase) async throws -> [Snapshot] {
        try decode(Snapshot.self, try await db.raw("SELECT doc FROM blk_snapshots WHERE volume_id = \(bind: volumeID)").all())
    }

    func snapshots(status: [String]) async throws -> [Snapshot] {
        try await db.read { db in
            try decode(Snapshot.self, try await db.raw("SELECT doc FROM blk_snapshots WHERE status IN \(SQLQueryString.list(status))").all())
        }
    }

    func insert(_ s: Snapshot, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO blk_snapshots (id, project_id, volume_id, status, created_at, doc)
            VALUES (\(bind: s.id), \(bind: s.projectID), \(bind: s.volumeID), \(bind: s.status), \(bind: s.createdAt), \(bind: try encode(s)))
            """).run()
    }

    func update(_ s: Snapshot, in db: any SQLDatabase) async throws {
        var s = s
        s.updatedAt = Self.now()
        try await db.raw("UPDATE blk_snapshots SET status = \(bind: s.status), doc = \(bind: try encode(s)) WHERE id = \(bind: s.id)").run()
    }

    func deleteSnapshot(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_snapshots WHERE id = \(bind: id)").run()
    }

    @discardableResult
    func editSnapshot(_ id: String, _ change: @Sendable (inout Snapshot) throws -> Void) async throws -> Snapshot? {
        try await db.transaction { db in
            guard var snapshot = try await snapshot(id, in: db) else { return nil }
            try change(&snapshot)
            try await update(snapshot, in: db)
            return snapshot
        }
    }

    // MARK: Types

    func types(in db: any SQLDatabase) async throws -> [VolumeType] {
        try decode(VolumeType.self, try await db.raw("SELECT doc FROM blk_types ORDER BY name").all())
    }

    func type(_ id: String, in db: any SQLDatabase) async throws -> VolumeType? {
        try decode(VolumeType.self, try await db.raw("SELECT doc FROM blk_types WHERE id = \(bind: id)").all()).first
    }

    func type(named name: String, in db: any SQLDatabase) async throws -> VolumeType? {
        try decode(VolumeType.self, try await db.raw("SELECT doc FROM blk_types WHERE name = \(bind: name)").all()).first
    }

    /// A type by ID or, failing that, by name, as Cinder looks up `volume_type`.
    func type(idOrName ref: String, in db: any SQLDatabase) async throws -> VolumeType? {
        if let type = try await type(ref, in: db) { return type }
        return try await type(named: ref, in: db)
    }

    func save(_ t: VolumeType, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_types WHERE id = \(bind: t.id)").run()
        try await db.raw("INSERT INTO blk_types (id, name, doc) VALUES (\(bind: t.id), \(bind: t.name), \(bind: try encode(t)))").run()
    }

    func deleteType(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_types WHERE id = \(bind: id)").run()
    }

    // MARK: Projects' default types

    /// Projects' own default types (3.62): project ID → type ID, of one project or of all (nil).
    func defaultTypes(projectID: String? = nil, in db: any SQLDatabase) async throws -> [(projectID: String, typeID: String)] {
        let query: SQLQueryString = projectID.map { "SELECT project_id, volume_type_id FROM blk_default_types WHERE project_id = \(bind: $0)" }
            ?? "SELECT project_id, volume_type_id FROM blk_default_types ORDER BY project_id"
        return try await db.raw(query).all().map {
            (try $0.decode(column: "project_id", as: String.self), try $0.decode(column: "volume_type_id", as: String.self))
        }
    }

    func setDefaultType(projectID: String, typeID: String, in db: any SQLDatabase) async throws {
        try await unsetDefaultType(projectID: projectID, in: db)
        try await db.raw("INSERT INTO blk_default_types (project_id, volume_type_id) VALUES (\(bind: projectID), \(bind: typeID))").run()
    }

    func unsetDefaultType(projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_default_types WHERE project_id = \(bind: projectID)").run()
    }

    func isSomeProjectsDefault(typeID: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT project_id FROM blk_default_types WHERE volume_type_id = \(bind: typeID)").first() != nil
    }

    /// The type a project's new volume takes when it names none: the project's own default (3.62),
    /// else `__DEFAULT__`.
    func defaultType(projectID: String?, in db: any SQLDatabase) async throws -> VolumeType? {
        if let projectID, let own = try await defaultTypes(projectID: projectID, in: db).first, let type = try await type(own.typeID, in: db) {
            return type
        }
        return try await type(named: VolumeType.defaultName, in: db)
    }

    func typeInUse(_ id: String, in db: any SQLDatabase) async throws -> Bool {
        // The type's ID is in the document only: a scan, fine for the rare type delete.
        try await volumes(projectID: nil, in: db).contains { $0.typeID == id }
    }

    // MARK: Quotas

    /// The limits set for a project (resources without a row use the defaults).
    func quotas(projectID: String, in db: any SQLDatabase) async throws -> [String: Int] {
        var limits: [String: Int] = [:]
        for row in try await db.raw("SELECT resource, hard_limit FROM blk_quotas WHERE project_id = \(bind: projectID)").all() {
            limits[try row.decode(column: "resource", as: String.self)] = try row.decode(column: "hard_limit", as: Int.self)
        }
        return limits
    }

    func setQuota(projectID: String, resource: String, limit: Int, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_quotas WHERE project_id = \(bind: projectID) AND resource = \(bind: resource)").run()
        try await db.raw("INSERT INTO blk_quotas (project_id, resource, hard_limit) VALUES (\(bind: projectID), \(bind: resource), \(bind: limit))").run()
    }

    func clearQuotas(projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_quotas WHERE project_id = \(bind: projectID)").run()
    }

    /// Holds the project's row until the transaction ends, so two creates count its use one after the other.
    func lockProject(_ projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO blk_project_locks (project_id) VALUES (\(bind: projectID)) ON CONFLICT (project_id) DO NOTHING").run()
        if self.db.kind == .postgres {
            try await db.raw("SELECT project_id FROM blk_project_locks WHERE project_id = \(bind: projectID) FOR UPDATE").run()
        }
    }

    // MARK: QoS specs, transfers, services

    func qosSpecs(in db: any SQLDatabase) async throws -> [QoSSpecs] {
        try decode(QoSSpecs.self, try await db.raw("SELECT doc FROM blk_qos_specs ORDER BY name").all())
    }

    func qosSpecs(_ id: String, in db: any SQLDatabase) async throws -> QoSSpecs? {
        try decode(QoSSpecs.self, try await db.raw("SELECT doc FROM blk_qos_specs WHERE id = \(bind: id)").all()).first
    }

    func save(_ q: QoSSpecs, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_qos_specs WHERE id = \(bind: q.id)").run()
        try await db.raw("INSERT INTO blk_qos_specs (id, name, doc) VALUES (\(bind: q.id), \(bind: q.name), \(bind: try encode(q)))").run()
    }

    func deleteQoSSpecs(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_qos_specs WHERE id = \(bind: id)").run()
    }

    func transfers(projectID: String?, in db: any SQLDatabase) async throws -> [VolumeTransfer] {
        let query: SQLQueryString = projectID.map { "SELECT doc FROM blk_transfers WHERE project_id = \(bind: $0) ORDER BY created_at, id" }
            ?? "SELECT doc FROM blk_transfers ORDER BY created_at, id"
        return try decode(VolumeTransfer.self, try await db.raw(query).all())
    }

    func transfer(_ id: String, in db: any SQLDatabase) async throws -> VolumeTransfer? {
        try decode(VolumeTransfer.self, try await db.raw(forUpdate("SELECT doc FROM blk_transfers WHERE id = \(bind: id)")).all()).first
    }

    func transfer(volumeID: String, in db: any SQLDatabase) async throws -> VolumeTransfer? {
        try decode(VolumeTransfer.self, try await db.raw("SELECT doc FROM blk_transfers WHERE volume_id = \(bind: volumeID)").all()).first
    }

    func insert(_ t: VolumeTransfer, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO blk_transfers (id, project_id, volume_id, created_at, doc)
            VALUES (\(bind: t.id), \(bind: t.projectID), \(bind: t.volumeID), \(bind: t.createdAt), \(bind: try encode(t)))
            """).run()
    }

    func deleteTransfer(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_transfers WHERE id = \(bind: id)").run()
    }

    func services(in db: any SQLDatabase) async throws -> [ServiceState] {
        try decode(ServiceState.self, try await db.raw("SELECT doc FROM blk_services ORDER BY binary_name, host").all())
    }

    func save(_ s: ServiceState, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM blk_services WHERE binary_name = \(bind: s.binary) AND host = \(bind: s.host)").run()
        try await db.raw("INSERT INTO blk_services (binary_name, host, doc) VALUES (\(bind: s.binary), \(bind: s.host), \(bind: try encode(s)))").run()
    }
}
