import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// What a GET streams for an object: its pieces in order, its size and the ETag clients see.
struct ObjectBody: Sendable {
    var pieces: [Piece]
    var size: Int64
    /// The `ETag` header value: MD5 hex for a plain object, quoted for large objects.
    var etag: String
    /// The MD5 of the bytes when known without reading them (plain objects).
    var md5: String?
}

/// Dynamic (`X-Object-Manifest`: every object under a prefix) and static (`multipart-manifest`:
/// a listed set of segments) large objects, and S3 multipart objects (several files of their own).
struct LargeObjects {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }
    static let maxSegments = 1000
    static let maxDepth = 10

    /// `container/prefix`, kept as sent (decoded when used).
    static func checkedDynamicManifest(_ value: String) throws -> String {
        let decoded = value.removingPercentEncoding ?? value
        let parts = decoded.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw APIError.badRequest("X-Object-Manifest must be in the format container/prefix")
        }
        return value
    }

    func body(of object: ObjectRecord, call: SwiftRequest?, depth: Int = 0) async throws -> ObjectBody {
        if depth > Self.maxDepth { throw APIError.conflict("Max recursion depth exceeded on large object segments.") }
        if let manifest = object.dynamicManifest, call?.query("multipart-manifest") != "get" {
            let decoded = manifest.removingPercentEncoding ?? manifest
            let parts = decoded.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let segments = try await catalog.objects(object.account, parts[0], prefix: parts.count > 1 ? parts[1] : "")
            var pieces: [Piece] = []
            var md5 = Insecure.MD5()
            for segment in segments where segment.dynamicManifest == nil {
                pieces += try await body(of: segment, call: nil, depth: depth + 1).pieces
                md5.update(data: Data(segment.etag.utf8))
            }
            return ObjectBody(pieces: pieces, size: pieces.reduce(0) { $0 + $1.size }, etag: "\"\(md5.finalize().hex)\"")
        }
        if let manifest = object.manifest {
            var pieces: [Piece] = []
            for segment in try SLOSegment.decode(manifest) {
                guard let (container, name) = segment.location,
                      let stored = try await catalog.object(object.account, container, name), !stored.isExpired else {
                    throw APIError.conflict("A segment of this large object is missing: \(segment.name).")
                }
                var inner = try await body(of: stored, call: nil, depth: depth + 1).pieces
                if let range = segment.range { inner = Self.cut(inner, range) }
                pieces += inner
            }
            return ObjectBody(pieces: pieces, size: object.size, etag: "\"\(object.etag)\"")
        }
        if object.files.count > 1 { return ObjectBody(pieces: object.files, size: object.size, etag: "\"\(object.etag)\"") }
        return ObjectBody(pieces: object.files, size: object.size, etag: object.etag, md5: object.etag)
    }

    /// The pieces covering bytes `range` of `pieces`.
    static func cut(_ pieces: [Piece], _ range: ClosedRange<Int64>) -> [Piece] {
        var result: [Piece] = []
        var start: Int64 = 0
        for piece in pieces {
            let end = start + piece.size
            let low = max(range.lowerBound, start), high = min(range.upperBound + 1, end)
            if low < high { result.append(Piece(file: piece.file, size: high - low, offset: piece.offset + low - start)) }
            start = end
        }
        return result
    }

    // MARK: Static manifests

    /// `PUT ?multipart-manifest=put`: checks every segment, stores the resolved list.
    func putManifest(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        let buffer = try await call.request.body.collect(upTo: 8 << 20)
        guard case .array(let items)? = try? JSON.parse(buffer.readableBytesView) else {
            throw APIError.badRequest("Manifest must be valid JSON.\n")
        }
        guard !items.isEmpty else { throw APIError.badRequest("Manifest must have at least one segment.\n") }
        guard items.count <= Self.maxSegments else { throw APIError.badRequest("Too many segments; max \(Self.maxSegments).\n") }
        var segments: [SLOSegment] = [], errors: [String] = []
        var total: Int64 = 0
        var etagText = ""
        for item in items {
            guard let path = item["path"]?.stringValue else { throw APIError.badRequest("Index 0: \"path\" must be a string.\n") }
            let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
            let parts = trimmed.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { errors.append("\(path), Invalid path"); continue }
            guard let stored = try await catalog.object(call.account, parts[0], parts[1]), !stored.isExpired else {
                errors.append("\(path), 404 Not Found"); continue
            }
            let segmentBody = try await body(of: stored, call: nil)
            let segmentETag = segmentBody.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if let expected = item["etag"]?.stringValue, expected.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) != segmentETag {
                errors.append("\(path), Etag Mismatch")
            }
            if let expected = item["size_bytes"], expected != .null, expected.int64 != segmentBody.size {
                errors.append("\(path), Size Mismatch")
            }
            var range: ClosedRange<Int64>?
            if let text = item["range"]?.stringValue {
                guard let parsed = ByteRanges.parse("bytes=" + text, size: segmentBody.size), parsed.count == 1 else {
                    errors.append("\(path), Unsatisfiable Range"); continue
                }
                range = parsed[0]
            }
            let size = range.map { Int64($0.count) } ?? segmentBody.size
            total += size
            etagText += range.map { "\(segmentETag):\($0.lowerBound)-\($0.upperBound);" } ?? segmentETag
            segments.append(SLOSegment(name: "/\(parts[0])/\(parts[1])", hash: segmentETag, bytes: segmentBody.size,
                                       contentType: stored.contentType, lastModified: stored.modified.listingTime, range: range))
        }
        if !errors.isEmpty { throw APIError.badRequest("Errors:\n" + errors.joined(separator: "\n")) }
        var md5 = Insecure.MD5()
        md5.update(data: Data(etagText.utf8))
        let etag = md5.finalize().hex
        if let expected = call.header("ETag")?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")), expected != etag {
            throw APIError(.unprocessableContent, "Unprocessable Entity")
        }
        var meta = Metadata.object(call.fields)
        meta["x-object-manifest"] = nil
        try Metadata.validate("object", meta)
        let object = ObjectRecord(account: call.account, container: container, name: name, size: total, etag: etag,
                                  contentType: call.header("Content-Type") ?? "application/octet-stream", modified: Micros.now(),
                                  deleteAt: try Metadata.deleteAt(call.request), files: [], manifest: SLOSegment.encode(segments), meta: meta)
        try await ObjectRoutes(service: service).store(object)
        return Response(status: .created, headers: [.etag: "\"\(etag)\"", .lastModified: HTTPDate.format(object.modified.date),
                                                    .contentType: "text/html; charset=UTF-8"])
    }

    /// `GET ?multipart-manifest=get`: the stored segment list (`format=raw`: as it was PUT).
    func manifestResponse(_ call: SwiftRequest, _ object: ObjectRecord) throws -> Response {
        // An S3 multipart object lists its parts, which have no names of their own.
        let segments = try object.manifest.map(SLOSegment.decode) ?? object.files.enumerated().map { index, piece in
            SLOSegment(name: "/\(object.container)/\(object.name)/part-\(index + 1)", hash: "", bytes: piece.size,
                       contentType: object.contentType, lastModified: object.modified.listingTime, range: nil)
        }
        let raw = call.query("format") == "raw"
        let json = JSON.array(segments.map { raw ? $0.putJSON : $0.json })
        var headers = ObjectRoutes(service: service).headers(for: object, etag: "\"\(object.etag)\"")
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.etag] = nil
        let bytes = json.serialized()
        headers[.contentLength] = String(bytes.count)
        if call.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `DELETE ?multipart-manifest=delete`: the manifest and its segments, with a bulk-style report.
    func deleteWithSegments(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        guard let object = try await catalog.object(call.account, container, name) else { throw APIError.notFound("Not Found") }
        var report = BulkReport()
        if let manifest = object.manifest {
            for segment in try SLOSegment.decode(manifest) {
                guard let (c, n) = segment.location, let old = try await catalog.deleteObject(call.account, c, n) else { report.notFound += 1; continue }
                await service.blobs.delete(old.files.map(\.file))
                report.deleted += 1
            }
        }
        if let old = try await catalog.deleteObject(call.account, container, name) {
            await service.blobs.delete(old.files.map(\.file))
            report.deleted += 1
        }
        return report.response(call.request, kind: .delete)
    }
}

/// One segment of a static large object, stored as `multipart-manifest=get` shows it.
struct SLOSegment: Sendable {
    var name: String
    var hash: String
    var bytes: Int64
    var contentType: String
    var lastModified: String
    var range: ClosedRange<Int64>?

    var location: (String, String)? {
        let parts = name.dropFirst().split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    var json: JSON {
        var fields: [String: JSON] = ["name": .string(name), "hash": .string(hash), "bytes": .int(bytes),
                                      "content_type": .string(contentType), "last_modified": .string(lastModified)]
        if let range { fields["range"] = .string("\(range.lowerBound)-\(range.upperBound)") }
        return .object(fields)
    }

    var putJSON: JSON {
        var fields: [String: JSON] = ["path": .string(name), "etag": .string(hash), "size_bytes": .int(bytes)]
        if let range { fields["range"] = .string("\(range.lowerBound)-\(range.upperBound)") }
        return .object(fields)
    }

    static func encode(_ segments: [SLOSegment]) -> String { String(decoding: JSON.array(segments.map(\.json)).serialized(), as: UTF8.self) }

    static func decode(_ text: String) throws -> [SLOSegment] {
        guard case .array(let items) = try JSON.parse(Array(text.utf8)) else { return [] }
        return items.compactMap { item in
            guard let name = item["name"]?.stringValue else { return nil }
            var range: ClosedRange<Int64>?
            if let text = item["range"]?.stringValue {
                let parts = text.split(separator: "-").compactMap { Int64($0) }
                if parts.count == 2 { range = parts[0]...parts[1] }
            }
            return SLOSegment(name: name, hash: item["hash"]?.stringValue ?? "", bytes: item["bytes"]?.int64 ?? 0,
                              contentType: item["content_type"]?.stringValue ?? "", lastModified: item["last_modified"]?.stringValue ?? "",
                              range: range)
        }
    }
}

extension JSON {
    var int64: Int64? {
        switch self {
        case .int(let i): return i
        case .string(let s): return Int64(s)
        default: return nil
        }
    }
}
