import Foundation
import MartletCore
import SQLKit

/// An S3 multipart upload in progress and its parts (each a file of its own).
struct Upload: Sendable {
    var id: String
    var account: String
    var container: String
    var name: String
    var created: Micros
    var contentType: String
    var meta: Headers

    init(row: any SQLRow) throws {
        id = try row.decode(column: "upload_id", as: String.self)
        account = try row.decode(column: "account", as: String.self)
        container = try row.decode(column: "container", as: String.self)
        name = try row.decode(column: "name", as: String.self)
        created = try row.decode(column: "created", as: Int64.self)
        contentType = try row.decode(column: "content_type", as: String.self)
        meta = Headers(metaText: try row.decode(column: "meta", as: String.self))
    }

    init(id: String, account: String, container: String, name: String, contentType: String, meta: Headers) {
        self.id = id
        self.account = account
        self.container = container
        self.name = name
        created = Micros.now()
        self.contentType = contentType
        self.meta = meta
    }
}

struct Part: Sendable {
    var number: Int
    var size: Int64
    var etag: String
    var file: String
    var modified: Micros

    init(row: any SQLRow) throws {
        number = try row.decode(column: "part_number", as: Int.self)
        size = try row.decode(column: "size", as: Int64.self)
        etag = try row.decode(column: "etag", as: String.self)
        file = try row.decode(column: "file", as: String.self)
        modified = try row.decode(column: "modified", as: Int64.self)
    }
}

extension ObjectCatalog {
    func createUpload(_ upload: Upload) async throws {
        try await db.transaction { db in
            try await db.raw("""
                INSERT INTO obj_uploads (upload_id, account, container, name, created, content_type, meta)
                VALUES (\(bind: upload.id), \(bind: upload.account), \(bind: upload.container), \(bind: upload.name), \(bind: upload.created),
                  \(bind: upload.contentType), \(bind: upload.meta.metaText))
                """).run()
        }
    }

    func upload(_ id: String) async throws -> Upload? {
        try await db.read { db in
            try await db.raw("SELECT * FROM obj_uploads WHERE upload_id = \(bind: id)").first().map(Upload.init(row:))
        }
    }

    /// Records a part, replacing one with the same number; returns the replaced part's file.
    /// Nil `upload` result: the upload is gone (aborted or completed meanwhile).
    func putPart(uploadID: String, number: Int, size: Int64, etag: String, file: String) async throws -> (exists: Bool, replaced: String?) {
        try await db.transaction { db in
            guard try await db.raw("SELECT upload_id FROM obj_uploads WHERE upload_id = \(bind: uploadID)").first() != nil else { return (false, nil) }
            let old = try await db.raw("SELECT file FROM obj_parts WHERE upload_id = \(bind: uploadID) AND part_number = \(bind: number)")
                .first().map { try $0.decode(column: "file", as: String.self) }
            try await db.raw("DELETE FROM obj_parts WHERE upload_id = \(bind: uploadID) AND part_number = \(bind: number)").run()
            try await db.raw("""
                INSERT INTO obj_parts (upload_id, part_number, size, etag, file, modified)
                VALUES (\(bind: uploadID), \(bind: number), \(bind: size), \(bind: etag), \(bind: file), \(bind: Micros.now()))
                """).run()
            return (true, old)
        }
    }

    func parts(_ uploadID: String) async throws -> [Part] {
        try await db.read { db in
            try await db.raw("SELECT * FROM obj_parts WHERE upload_id = \(bind: uploadID) ORDER BY part_number").all().map(Part.init(row:))
        }
    }

    /// Removes the upload and its parts; returns their files.
    func deleteUpload(_ id: String) async throws -> [String]? {
        try await db.transaction { db in try await deleteUpload(id, in: db) }
    }

    func deleteUpload(_ id: String, in db: any SQLDatabase) async throws -> [String]? {
        guard try await db.raw("SELECT upload_id FROM obj_uploads WHERE upload_id = \(bind: id)").first() != nil else { return nil }
        let files = try await db.raw("SELECT file FROM obj_parts WHERE upload_id = \(bind: id)").all().map { try $0.decode(column: "file", as: String.self) }
        try await db.raw("DELETE FROM obj_parts WHERE upload_id = \(bind: id)").run()
        try await db.raw("DELETE FROM obj_uploads WHERE upload_id = \(bind: id)").run()
        return files
    }

    func uploads(_ account: String, _ container: String, prefix: String, limit: Int) async throws -> [Upload] {
        try await db.read { db in
            try await db.raw("""
                SELECT * FROM obj_uploads WHERE account = \(bind: account) AND container = \(bind: container)
                ORDER BY name, created LIMIT \(unsafeRaw: String(limit * 4))
                """).all().map(Upload.init(row:)).filter { $0.name.utf8.starts(with: prefix.utf8) }.prefix(limit).map { $0 }
        }
    }
}
