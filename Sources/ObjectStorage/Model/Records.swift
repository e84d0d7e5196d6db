import Foundation
import MartletCore
import SQLKit

/// Microseconds since 1970, the catalogue's clock.
typealias Micros = Int64

extension Micros {
    static func now() -> Micros { Micros((Date().timeIntervalSince1970 * 1_000_000).rounded()) }
    var date: Date { Date(timeIntervalSince1970: Double(self) / 1_000_000) }
    /// Swift's `X-Timestamp`: seconds with five decimals.
    var xTimestamp: String { String(format: "%.5f", Double(self) / 1_000_000) }
    /// Container listings' `last_modified`: ISO 8601 in UTC with microseconds and no zone.
    var listingTime: String {
        var out: [UInt8] = []
        appendISO(to: &out, digits: 6)
        return String(decoding: out, as: UTF8.self)
    }
    /// S3's `2024-01-01T00:00:00.000Z`.
    var s3Time: String {
        var out: [UInt8] = []
        appendISO(to: &out, digits: 3)
        return String(decoding: out, as: UTF8.self) + "Z"
    }

    /// Writes the time digit by digit: listings format thousands of these.
    func appendISO(to out: inout [UInt8], digits: Int) {
        var t = time_t(self / 1_000_000), p = tm()
        gmtime_r(&t, &p)
        func put(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 { out.append(UInt8(48 + v / divisor % 10)); v %= divisor; divisor /= 10 }
        }
        put(Int(p.tm_year) + 1900, 4); out.append(45); put(Int(p.tm_mon) + 1, 2); out.append(45); put(Int(p.tm_mday), 2)
        out.append(84); put(Int(p.tm_hour), 2); out.append(58); put(Int(p.tm_min), 2); out.append(58); put(Int(p.tm_sec), 2)
        out.append(46)
        put(Int(self % 1_000_000) / (digits == 6 ? 1 : 1000), digits)
    }
}

/// Stored headers: lowercase name to value, kept as a JSON object in a `meta` column.
typealias Headers = [String: String]

extension Headers {
    init(metaText: String) {
        self = [:]
        guard case .object(let members)? = try? JSON.parse(Array(metaText.utf8)) else { return }
        for (key, value) in members { if let text = value.stringValue { self[key] = text } }
    }

    var metaText: String { String(decoding: JSON.object(mapValues { .string($0) }).serialized(), as: UTF8.self) }
}

struct AccountRecord: Sendable {
    var account: String
    var created: Micros
    var meta: Headers
}

struct ContainerRecord: Sendable {
    var account: String
    var name: String
    var created: Micros
    var modified: Micros
    var meta: Headers
    var objectCount: Int64
    var bytesUsed: Int64

    init(row: any SQLRow) throws {
        account = try row.decode(column: "account", as: String.self)
        name = try row.decode(column: "name", as: String.self)
        created = try row.decode(column: "created", as: Int64.self)
        modified = try row.decode(column: "modified", as: Int64.self)
        meta = Headers(metaText: try row.decode(column: "meta", as: String.self))
        objectCount = try row.decode(column: "object_count", as: Int64.self)
        bytesUsed = try row.decode(column: "bytes_used", as: Int64.self)
    }

    init(account: String, name: String, now: Micros, meta: Headers) {
        self.account = account
        self.name = name
        created = now
        modified = now
        self.meta = meta
        objectCount = 0
        bytesUsed = 0
    }
}

struct ObjectRecord: Sendable {
    var account: String
    var container: String
    var name: String
    var size: Int64
    /// MD5 hex of the bytes for a plain object; for large objects the ETag clients are shown, unquoted.
    var etag: String
    var contentType: String
    var modified: Micros
    var deleteAt: Int64?
    /// The files holding the bytes, in order (several for an S3 multipart upload).
    var files: [Piece]
    /// A static large object's segment list (JSON, `SLOSegment`s).
    var manifest: String?
    /// A symlink's target, `account/container/object`.
    var symlink: String? = nil
    /// User metadata and the other stored headers (`content-disposition`, `x-object-manifest`, …).
    var meta: Headers

    static let columns = "account, container, name, size, etag, content_type, modified, delete_at, files, manifest, symlink, meta"

    init(row: any SQLRow) throws {
        account = try row.decode(column: "account", as: String.self)
        container = try row.decode(column: "container", as: String.self)
        name = try row.decode(column: "name", as: String.self)
        size = try row.decode(column: "size", as: Int64.self)
        etag = try row.decode(column: "etag", as: String.self)
        contentType = try row.decode(column: "content_type", as: String.self)
        modified = try row.decode(column: "modified", as: Int64.self)
        deleteAt = try row.decode(column: "delete_at", as: Int64?.self)
        files = Self.pieces(try row.decode(column: "files", as: String?.self))
        manifest = try row.decode(column: "manifest", as: String?.self)
        symlink = try row.decode(column: "symlink", as: String?.self)
        meta = Headers(metaText: try row.decode(column: "meta", as: String.self))
    }

    init(account: String, container: String, name: String, size: Int64, etag: String, contentType: String,
         modified: Micros, deleteAt: Int64?, files: [Piece], manifest: String?, meta: Headers) {
        self.account = account
        self.container = container
        self.name = name
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.modified = modified
        self.deleteAt = deleteAt
        self.files = files
        self.manifest = manifest
        self.meta = meta
    }

    /// `id:size,id:size`.
    static func pieces(_ text: String?) -> [Piece] {
        guard let text, !text.isEmpty else { return [] }
        return text.split(separator: ",").compactMap { item in
            let parts = item.split(separator: ":")
            guard parts.count == 2, let size = Int64(parts[1]) else { return nil }
            return Piece(file: String(parts[0]), size: size)
        }
    }

    var filesText: String? { files.isEmpty ? nil : files.map { "\($0.file):\($0.size)" }.joined(separator: ",") }

    var isExpired: Bool { deleteAt.map { $0 <= Int64(Date().timeIntervalSince1970) } ?? false }
    var isStaticLarge: Bool { manifest != nil }
    var dynamicManifest: String? { meta["x-object-manifest"] }
}

/// What a listing reads of each object.
protocol ListingEntry: Sendable {
    static var columns: String { get }
    var name: String { get }
    init(row: any SQLRow) throws
}

/// One row of a container listing, its fields apart (plain text, XML, S3).
struct ObjectEntry: ListingEntry {
    static let columns = "name, size, etag, content_type, modified, symlink"
    var name: String
    var size: Int64
    var etag: String
    var contentType: String
    var modified: Micros
    var symlink: String?

    init(row: any SQLRow) throws {
        name = try row.decode(column: "name", as: String.self)
        symlink = try row.decode(column: "symlink", as: String?.self)
        size = try row.decode(column: "size", as: Int64.self)
        etag = try row.decode(column: "etag", as: String.self)
        contentType = try row.decode(column: "content_type", as: String.self)
        modified = try row.decode(column: "modified", as: Int64.self)
    }
}

/// One row of a JSON container listing, as rendered when the object was written.
struct RenderedEntry: ListingEntry {
    static let columns = "name, listing"
    var name: String
    var json: String

    init(row: any SQLRow) throws {
        name = try row.decode(column: "name", as: String.self)
        json = try row.decode(column: "listing", as: String.self)
    }
}

extension ObjectRecord {
    /// `{"name", "hash", "bytes", "content_type", "last_modified"[, "symlink_path"]}`.
    var listingJSON: String {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out.append(contentsOf: #"{"name":"#.utf8)
        JSON.writeString(name, into: &out)
        out.append(contentsOf: #","hash":""#.utf8)
        out.append(contentsOf: etag.utf8)
        out.append(contentsOf: #"","bytes":"#.utf8)
        out.append(contentsOf: String(size).utf8)
        out.append(contentsOf: #","content_type":"#.utf8)
        JSON.writeString(contentType, into: &out)
        out.append(contentsOf: #","last_modified":""#.utf8)
        modified.appendISO(to: &out, digits: 6)
        out.append(UInt8(ascii: "\""))
        if let symlink {
            out.append(contentsOf: #","symlink_path":"#.utf8)
            JSON.writeString("/v1/" + symlink, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
