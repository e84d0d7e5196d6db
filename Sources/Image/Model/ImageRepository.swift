import Foundation
import MartletCore
import MartletStore
import SQLKit

/// Every query the Image service makes.
struct ImageRepository: Sendable {
    let db: Database

    func now() -> Double { Date().timeIntervalSince1970 }

    func image(_ id: String) async throws -> ImageRecord? {
        try await db.read { db in try await image(id, in: db) }
    }

    func image(_ id: String, in db: any SQLDatabase) async throws -> ImageRecord? {
        try await images(where: "id = \(bind: id)", order: [], limit: 1, in: db).first
    }

    /// Images matching `condition`, in `order` (SQL expressions), at most `limit`, with their tags and properties.
    func images(where condition: SQLQueryString, order: [(expression: String, ascending: Bool)], limit: Int,
                in db: any SQLDatabase) async throws -> [ImageRecord] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: ImageRecord.columns) FROM image_images WHERE "
        query += condition
        if !order.isEmpty {
            query += " ORDER BY \(unsafeRaw: order.map { "\($0.expression) \($0.ascending ? "ASC" : "DESC")" }.joined(separator: ", "))" as SQLQueryString
        }
        query += " LIMIT \(unsafeRaw: String(limit))" as SQLQueryString
        let rows = try await db.raw(query).all()
        guard !rows.isEmpty else { return [] }
        let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
        var tags: [String: [String]] = [:]
        for row in try await db.raw("SELECT image_id, tag FROM image_tags WHERE image_id IN \(SQLQueryString.list(ids))").all() {
            tags[try row.decode(column: "image_id", as: String.self), default: []].append(try row.decode(column: "tag", as: String.self))
        }
        var properties: [String: [String: String]] = [:]
        for row in try await db.raw("SELECT image_id, name, value FROM image_properties WHERE image_id IN \(SQLQueryString.list(ids))").all() {
            properties[try row.decode(column: "image_id", as: String.self), default: [:]][try row.decode(column: "name", as: String.self)] =
                try row.decode(column: "value", as: String.self)
        }
        return try zip(rows, ids).map { row, id in try ImageRecord(row: row, tags: tags[id] ?? [], properties: properties[id] ?? [:]) }
    }

    func insert(_ i: ImageRecord, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO image_images (\(unsafeRaw: ImageRecord.columns)) VALUES (
              \(bind: i.id), \(bind: i.name), \(bind: i.status), \(bind: i.visibility), \(bind: i.owner), \(bind: i.diskFormat),
              \(bind: i.containerFormat), \(bind: i.size), \(bind: i.virtualSize), \(bind: i.checksum), \(bind: i.osHashAlgo),
              \(bind: i.osHashValue), \(bind: i.minDisk), \(bind: i.minRam), \(bind: i.protected), \(bind: i.osHidden),
              \(bind: i.createdAt), \(bind: i.updatedAt))
            """).run()
        try await replaceTagsAndProperties(i, in: db)
    }

    func update(_ i: ImageRecord, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE image_images SET name = \(bind: i.name), status = \(bind: i.status), visibility = \(bind: i.visibility),
              owner = \(bind: i.owner), disk_format = \(bind: i.diskFormat), container_format = \(bind: i.containerFormat),
              size = \(bind: i.size), virtual_size = \(bind: i.virtualSize), checksum = \(bind: i.checksum),
              os_hash_algo = \(bind: i.osHashAlgo), os_hash_value = \(bind: i.osHashValue), min_disk = \(bind: i.minDisk),
              min_ram = \(bind: i.minRam), protected = \(bind: i.protected), os_hidden = \(bind: i.osHidden),
              updated_at = \(bind: i.updatedAt)
            WHERE id = \(bind: i.id)
            """).run()
        try await replaceTagsAndProperties(i, in: db)
    }

    /// Moves an image from one status to another only if it is still in `from`: two uploads cannot both win.
    func transition(_ id: String, from: [String], to: String, in db: any SQLDatabase) async throws -> Bool {
        let current = try await db.raw("SELECT status FROM image_images WHERE id = \(bind: id)").first()?.decode(column: "status", as: String.self)
        guard let current, from.contains(current) else { return false }
        try await db.raw("UPDATE image_images SET status = \(bind: to), updated_at = \(bind: now()) WHERE id = \(bind: id)").run()
        return true
    }

    private func replaceTagsAndProperties(_ i: ImageRecord, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM image_tags WHERE image_id = \(bind: i.id)").run()
        for tag in Set(i.tags) {
            try await db.raw("INSERT INTO image_tags (image_id, tag) VALUES (\(bind: i.id), \(bind: tag))").run()
        }
        try await db.raw("DELETE FROM image_properties WHERE image_id = \(bind: i.id)").run()
        for (name, value) in i.properties {
            try await db.raw("INSERT INTO image_properties (image_id, name, value) VALUES (\(bind: i.id), \(bind: name), \(bind: value))").run()
        }
    }

    func delete(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM image_images WHERE id = \(bind: id)").run()
    }

    /// Images and bytes a project holds, for quotas and `/v2/info/usage`.
    func usage(owner: String, in db: any SQLDatabase) async throws -> (count: Int, bytes: Int64) {
        let row = try await db.raw("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM image_images WHERE owner = \(bind: owner)").first()
        return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "bytes", as: Int64.self) ?? 0)
    }

    func statuses() async throws -> [String: String] {
        try await db.read { db in
            var result: [String: String] = [:]
            for row in try await db.raw("SELECT id, status FROM image_images").all() {
                result[try row.decode(column: "id", as: String.self)] = try row.decode(column: "status", as: String.self)
            }
            return result
        }
    }

    // MARK: Members

    func member(imageID: String, memberID: String, in db: any SQLDatabase) async throws -> ImageMember? {
        try await db.raw("SELECT image_id, member_id, status, created_at, updated_at FROM image_members WHERE image_id = \(bind: imageID) AND member_id = \(bind: memberID)")
            .first().map(ImageMember.init(row:))
    }

    func member(imageID: String, memberID: String) async throws -> ImageMember? {
        try await db.read { try await member(imageID: imageID, memberID: memberID, in: $0) }
    }

    func members(imageID: String) async throws -> [ImageMember] {
        try await db.read { db in
            try await db.raw("SELECT image_id, member_id, status, created_at, updated_at FROM image_members WHERE image_id = \(bind: imageID) ORDER BY created_at")
                .all().map(ImageMember.init(row:))
        }
    }

    func save(_ m: ImageMember, new: Bool, in db: any SQLDatabase) async throws {
        if new {
            try await db.raw("""
                INSERT INTO image_members (image_id, member_id, status, created_at, updated_at)
                VALUES (\(bind: m.imageID), \(bind: m.memberID), \(bind: m.status), \(bind: m.createdAt), \(bind: m.updatedAt))
                """).run()
        } else {
            try await db.raw("UPDATE image_members SET status = \(bind: m.status), updated_at = \(bind: m.updatedAt) WHERE image_id = \(bind: m.imageID) AND member_id = \(bind: m.memberID)").run()
        }
    }

    func deleteMember(imageID: String, memberID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM image_members WHERE image_id = \(bind: imageID) AND member_id = \(bind: memberID)").run()
    }

    // MARK: Import tasks

    func addTask(imageID: String, body: JSON, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO image_tasks (id, image_id, body, created_at) VALUES (\(bind: body["id"]?.stringValue ?? Identifier.uuid()), \(bind: imageID), \(bind: body.text), \(bind: now()))").run()
    }

    func tasks(imageID: String) async throws -> [JSON] {
        try await db.read { db in
            try await db.raw("SELECT body FROM image_tasks WHERE image_id = \(bind: imageID) ORDER BY created_at").all()
                .compactMap { try? JSON.parse(Array(try $0.decode(column: "body", as: String.self).utf8)) }
        }
    }
}
