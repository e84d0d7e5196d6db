import Foundation
import HTTPTypes
import Hummingbird
import MartletCore
import SQLKit

/// `/v1/AUTH_<project>/<container>/<object>`: bytes in and out (ranges, conditions, large
/// objects), metadata, server-side copy and delete.
struct ObjectRoutes {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }
    var blobs: BlobStore { service.blobs }
    var large: LargeObjects { LargeObjects(service: service) }

    func handle(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        if FormPost.applies(call) { return try await FormPost(service: service).handle(call, container: container, prefix: name) }
        if call.has("temp_url_sig") {
            try await TempURL(service: service).verify(call, container: container, object: name)
        } else {
            try await authorize(call, container, write: ![.get, .head].contains(call.method))
        }
        switch call.method {
        case .get, .head: return try await get(call, container, name)
        case .put:
            if let source = call.header("X-Copy-From") {
                return try await copy(call, from: try Self.target(source, call.header("X-Copy-From-Account") ?? call.account),
                                      to: (call.account, container, name))
            }
            if call.query("multipart-manifest") == "put" { return try await large.putManifest(call, container, name) }
            return try await put(call, container, name)
        case .post: return try await post(call, container, name)
        case .delete: return try await delete(call, container, name)
        case SwiftAPI.copy:
            guard let destination = call.header("Destination") else { throw APIError.preconditionFailed("You must specify a destination.") }
            let target = try Self.target(destination, call.header("Destination-Account") ?? call.account)
            guard call.access.owns(target.account) else { throw call.access.denied }
            return try await copy(call, from: (call.account, container, name), to: target)
        default: throw APIError(.methodNotAllowed, "Method Not Allowed")
        }
    }

    /// Owners may do anything; others what the container's ACLs say.
    func authorize(_ call: SwiftRequest, _ container: String, write: Bool) async throws {
        if call.owns || (!write && call.reads) { return }
        guard let record = try await catalog.container(call.account, container) else { throw call.access.denied }
        let allowed = write ? call.access.canWrite(acl: record.meta["x-container-write"])
            : call.access.canRead(acl: record.meta["x-container-read"], listing: false)
        guard allowed else { throw call.access.denied }
    }

    /// `container/object` (URL-encoded, leading slash optional) in `account`.
    static func target(_ text: String, _ account: String) throws -> (account: String, container: String, name: String) {
        let decoded = (text.removingPercentEncoding ?? text)
        let path = decoded.hasPrefix("/") ? String(decoded.dropFirst()) : decoded
        let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw APIError.preconditionFailed("X-Copy-From header must be of the form <container name>/<object name>")
        }
        return (account, parts[0], parts[1])
    }

    // MARK: PUT

    private func put(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        let symlink = try Symlinks.target(call)
        if symlink != nil, let length = call.header("Content-Length"), length != "0" {
            throw APIError.badRequest("Symlink requests require a zero byte body")
        }
        let fields = call.fields
        var meta = Metadata.object(fields)
        try Metadata.validate("object", meta)
        let deleteAt = try Metadata.deleteAt(call.request)
        if let manifest = meta["x-object-manifest"] { meta["x-object-manifest"] = try LargeObjects.checkedDynamicManifest(manifest) }
        guard let record = try await catalog.container(call.account, container) else { throw APIError.notFound("Not Found") }
        if let length = call.header("Content-Length").flatMap(Int64.init), length > Limits.maxFileSize {
            throw APIError(.contentTooLarge, "Your request is too large.")
        }
        let limit = try await Quotas(catalog: catalog).bytesLeft(call.account, record, adding: call.header("Content-Length").flatMap(Int64.init))
        let written: Written
        do {
            written = try await blobs.write(call.request.body, limit: limit)
        } catch DurableFileError.tooLarge {
            throw Quotas.exceeded
        }
        if let expected = call.header("ETag")?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")), expected.lowercased() != written.md5 {
            await blobs.delete(written.piece.map { [$0.file] } ?? [])
            throw APIError(.unprocessableContent, "Unprocessable Entity")
        }
        let contentType = ContentTypes.resolve(call.header("Content-Type"), detect: call.header("X-Detect-Content-Type")?.lowercased() == "true",
                                               name: name)
        var object = ObjectRecord(account: call.account, container: container, name: name, size: written.size, etag: written.md5,
                                  contentType: symlink == nil ? contentType : "application/symlink", modified: Micros.now(), deleteAt: deleteAt,
                                  files: written.piece.map { [$0] } ?? [], manifest: nil, meta: meta)
        if let symlink {
            guard written.size == 0 else {
                await blobs.delete(object.files.map(\.file))
                throw APIError.badRequest("Symlink requests require a zero byte body")
            }
            object.symlink = symlink
        }
        try await store(object)
        return Response(status: .created, headers: [.etag: object.etag, .lastModified: HTTPDate.format(object.modified.date),
                                                    .contentType: "text/html; charset=UTF-8"])
    }

    /// Commits a written object, keeping the version it replaces when the container asks for
    /// that, and frees the files of what it replaced. Its own files go if the commit fails.
    func store(_ object: ObjectRecord, also: @Sendable (any SQLDatabase) async throws -> Void = { _ in }) async throws {
        let outcome: ObjectCatalog.PutOutcome
        do {
            outcome = try await catalog.putObject(object, check: { container, old in try Quotas.checkCount(container, replacing: old) }, also: also)
        } catch {
            await blobs.delete(object.files.map(\.file))
            throw error
        }
        switch outcome {
        case .noContainer:
            await blobs.delete(object.files.map(\.file))
            throw APIError.notFound("Not Found")
        case .stored(let replaced?):
            if try await !Versions(service: service).archive(replaced) { await blobs.delete(replaced.files.map(\.file)) }
        case .stored(nil):
            break
        }
    }

    // MARK: GET / HEAD

    func get(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        guard let stored = try await catalog.object(call.account, container, name), !stored.isExpired else {
            throw APIError.notFound("Not Found")
        }
        var object = stored
        if stored.symlink != nil, call.query("symlink") != "get" { object = try await Symlinks(service: service).resolve(stored, call: call) }
        if object.isStaticLarge || object.files.count > 1, call.query("multipart-manifest") == "get" {
            return try large.manifestResponse(call, object)
        }
        let body = try await large.body(of: object, call: call)
        var headers = headers(for: object, etag: body.etag, tempURL: call.has("temp_url_sig") ? call : nil)
        Symlinks.headers(stored, into: &headers)
        if stored.symlink != nil, object.symlink == nil {
            headers[.contentLocation] = "/v1/\(object.account)/\(object.container)/\(object.name)"
        }
        switch Conditions.evaluate(call.request, etag: body.etag, modified: object.modified.date) {
        case .notModified:
            headers[.contentLength] = "0"
            return Response(status: .notModified, headers: headers)
        case .preconditionFailed:
            throw APIError(.preconditionFailed, "Precondition Failed", headers: [.etag: headers[.etag] ?? ""])
        case .proceed: break
        }
        let size = body.size
        guard let ranges = ByteRanges.parse(call.header("Range"), size: size), size > 0 || !(call.header("Range") ?? "").isEmpty else {
            headers[.contentLength] = String(size)
            if call.method == .head || size == 0 { return Response(status: .ok, headers: headers) }
            if body.pieces.count == 1, size <= 65_536 {
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: try await blobs.readAll(body.pieces[0])))
            }
            return Response(status: .ok, headers: headers, body: blobs.read(body.pieces, range: 0...(size - 1)))
        }
        if ranges.isEmpty {
            throw APIError(.rangeNotSatisfiable, "Requested Range Not Satisfiable", headers: [.contentRange: "bytes */\(size)"])
        }
        if ranges.count == 1 {
            let range = ranges[0]
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            if call.method == .head { return Response(status: .partialContent, headers: headers) }
            return Response(status: .partialContent, headers: headers, body: blobs.read(body.pieces, range: range))
        }
        let boundary = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let parts = ranges.map { range in
            (range, "--\(boundary)\r\nContent-Type: \(object.contentType)\r\nContent-Range: bytes \(range.lowerBound)-\(range.upperBound)/\(size)\r\n\r\n")
        }
        let closing = "--\(boundary)--"
        let length = parts.reduce(0) { $0 + Int($1.0.count) + $1.1.utf8.count + 2 } + closing.utf8.count
        headers[.contentType] = "multipart/byteranges;boundary=\(boundary)"
        headers[.contentLength] = String(length)
        if call.method == .head { return Response(status: .partialContent, headers: headers) }
        let blobs = self.blobs, pieces = body.pieces
        return Response(status: .partialContent, headers: headers, body: ResponseBody(contentLength: length) { writer in
            for (range, head) in parts {
                try await writer.write(ByteBuffer(string: head))
                try await blobs.stream(pieces, range, to: &writer)
                try await writer.write(ByteBuffer(string: "\r\n"))
            }
            try await writer.write(ByteBuffer(string: closing))
            try await writer.finish(nil)
        })
    }

    func headers(for object: ObjectRecord, etag: String, tempURL: SwiftRequest? = nil) -> HTTPFields {
        var headers: HTTPFields = [
            .contentType: object.contentType, .etag: etag, .lastModified: HTTPDate.format(object.modified.date),
            .timestamp: object.modified.xTimestamp, .acceptRanges: "bytes",
        ]
        Metadata.add(object.meta, to: &headers)
        if let deleteAt = object.deleteAt { headers[HTTPField.Name("X-Delete-At")!] = String(deleteAt) }
        // An S3 multipart object is several files: to Swift clients it is a static large object.
        if object.isStaticLarge || object.files.count > 1 { headers[HTTPField.Name("X-Static-Large-Object")!] = "True" }
        if let call = tempURL { TempURL.disposition(call, object: object.name, into: &headers) }
        return headers
    }

    // MARK: POST, DELETE

    private func post(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        let fields = call.fields
        let meta = Metadata.object(fields)
        try Metadata.validate("object", meta)
        let deleteAt = try Metadata.deleteAt(call.request)
        let manifest = try meta["x-object-manifest"].map(LargeObjects.checkedDynamicManifest)
        let contentType = call.header("Content-Type")
        let removesDeleteAt = fields.contains { $0.name == "x-remove-delete-at" }
        guard try await catalog.updateObject(call.account, container, name, { record in
            // POST replaces the user metadata; the large-object marker stays unless given anew.
            var next = meta
            if let manifest { next["x-object-manifest"] = manifest } else if let old = record.meta["x-object-manifest"] { next["x-object-manifest"] = old }
            record.meta = next
            if let contentType, !contentType.isEmpty, !contentType.hasPrefix("application/x-www-form-urlencoded") { record.contentType = contentType }
            if let deleteAt { record.deleteAt = deleteAt } else if removesDeleteAt { record.deleteAt = nil }
        }) != nil else { throw APIError.notFound("Not Found") }
        return Response(status: .accepted, headers: [.contentType: "text/html; charset=UTF-8"])
    }

    private func delete(_ call: SwiftRequest, _ container: String, _ name: String) async throws -> Response {
        if call.query("multipart-manifest") == "delete" { return try await large.deleteWithSegments(call, container, name) }
        guard let old = try await catalog.deleteObject(call.account, container, name) else { throw APIError.notFound("Not Found") }
        if try await !Versions(service: service).archive(old, deleted: true) { await blobs.delete(old.files.map(\.file)) }
        if old.isExpired { throw APIError.notFound("Not Found") }
        try await Versions(service: service).restore(call.account, container, name)
        return Response(status: .noContent, headers: [.contentType: "text/html; charset=UTF-8"])
    }

    // MARK: Copy

    /// Server-side copy: the bytes of the source (a large object's assembled bytes) under a new
    /// name, with the source's metadata plus the request's (or the request's alone with `X-Fresh-Metadata`).
    private func copy(_ call: SwiftRequest, from source: (account: String, container: String, name: String),
                      to destination: (account: String, container: String, name: String)) async throws -> Response {
        if !call.access.reads(source.account) {
            guard let record = try await catalog.container(source.account, source.container),
                  call.access.canRead(acl: record.meta["x-container-read"], listing: false) else { throw call.access.denied }
        }
        guard let stored = try await catalog.object(source.account, source.container, source.name), !stored.isExpired else {
            throw APIError.notFound("Not Found")
        }
        let original = stored.symlink == nil ? stored : try await Symlinks(service: service).resolve(stored, call: call)
        guard let target = try await catalog.container(destination.account, destination.container) else { throw APIError.notFound("Not Found") }
        let fields = call.fields
        let fresh = ["true", "1", "yes", "on"].contains(call.header("X-Fresh-Metadata")?.lowercased() ?? "")
        var meta = fresh ? Headers() : original.meta.filter { $0.key != "x-object-manifest" }
        for (key, value) in Metadata.object(fields) { meta[key] = value }
        for (name, _) in fields where name.hasPrefix("x-remove-object-meta-") { meta["x-object-meta-" + name.dropFirst("x-remove-object-meta-".count)] = nil }
        try Metadata.validate("object", meta)
        let body = try await large.body(of: original, call: call)
        let limit = try await Quotas(catalog: catalog).bytesLeft(destination.account, target, adding: body.size)
        if let limit, body.size > limit { throw Quotas.exceeded }
        let written = try await blobs.copy(body)
        let requestedType = call.header("Content-Type").flatMap { $0.isEmpty ? nil : $0 }
        let object = ObjectRecord(account: destination.account, container: destination.container, name: destination.name,
                                  size: written.size, etag: written.md5, contentType: requestedType ?? original.contentType,
                                  modified: Micros.now(), deleteAt: try Metadata.deleteAt(call.request),
                                  files: written.piece.map { [$0] } ?? [], manifest: nil, meta: meta)
        try await store(object)
        var headers: HTTPFields = [
            .etag: object.etag, .lastModified: HTTPDate.format(object.modified.date), .contentType: "text/html; charset=UTF-8",
            HTTPField.Name("X-Copied-From")!: Self.quoted(source.container) + "/" + Self.quoted(source.name),
            HTTPField.Name("X-Copied-From-Last-Modified")!: HTTPDate.format(original.modified.date),
            HTTPField.Name("X-Copied-From-Account")!: source.account,
        ]
        Metadata.add(meta, to: &headers)
        return Response(status: .created, headers: headers)
    }

    static func quoted(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text
    }
}
