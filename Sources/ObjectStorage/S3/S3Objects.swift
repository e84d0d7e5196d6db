import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Objects through S3: put, get and head (ranges, conditions), copy, delete.
struct S3Objects {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }
    var blobs: BlobStore { service.blobs }

    func handle(_ call: S3Request, _ bucket: String, _ key: String) async throws -> Response {
        switch call.method {
        case .put:
            if call.has("acl") || call.has("tagging") { return Response(status: .ok) }
            if call.header("x-amz-copy-source") != nil { return try await copy(call, bucket, key) }
            return try await put(call, bucket, key)
        case .get, .head: return try await get(call, bucket, key)
        case .delete:
            if let old = try await catalog.deleteObject(call.account, bucket, key) {
                await blobs.delete(old.files.map(\.file))
            } else if try await catalog.container(call.account, bucket) == nil {
                throw S3Error.noSuchBucket(bucket)
            }
            return Response(status: .noContent)
        default:
            throw S3Error(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
    }

    /// `x-amz-meta-*` as Swift's `x-object-meta-*`, and the content headers stored with objects.
    static func metadata(_ request: Request) -> Headers {
        var meta = Headers()
        for field in request.headers {
            let name = field.name.canonicalName.lowercased()
            if name.hasPrefix("x-amz-meta-") { meta["x-object-meta-" + name.dropFirst("x-amz-meta-".count)] = field.value }
            else if Metadata.objectHeaders.contains(name), name != "x-object-manifest" {
                if name == "content-encoding" {
                    let codings = field.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != "aws-chunked" }
                    if !codings.isEmpty { meta[name] = codings.joined(separator: ",") }
                } else {
                    meta[name] = field.value
                }
            }
        }
        return meta
    }

    static func contentType(_ request: Request) -> String {
        request.header("Content-Type").flatMap { $0.isEmpty ? nil : $0 } ?? "binary/octet-stream"
    }

    private func bucketRecord(_ call: S3Request, _ bucket: String) async throws -> ContainerRecord {
        guard let record = try await catalog.container(call.account, bucket) else { throw S3Error.noSuchBucket(bucket) }
        return record
    }

    private func put(_ call: S3Request, _ bucket: String, _ key: String) async throws -> Response {
        let record = try await bucketRecord(call, bucket)
        let meta = Self.metadata(call.request)
        try Metadata.validate("object", meta)
        let declared = (call.header("x-amz-decoded-content-length") ?? call.header("Content-Length")).flatMap(Int64.init)
        if let declared, declared > Limits.maxFileSize { throw S3Error(.badRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.") }
        let limit = try await Quotas(catalog: catalog).bytesLeft(call.account, record, adding: declared)
        let written = try await call.writeBody(blobs, limit: limit)
        let object = ObjectRecord(account: call.account, container: bucket, name: key, size: written.size, etag: written.md5,
                                  contentType: Self.contentType(call.request), modified: Micros.now(), deleteAt: nil,
                                  files: written.piece.map { [$0] } ?? [], manifest: nil, meta: meta)
        try await ObjectRoutes(service: service).store(object)
        return Response(status: .ok, headers: [.etag: "\"\(object.etag)\""])
    }

    private func get(_ call: S3Request, _ bucket: String, _ key: String) async throws -> Response {
        guard let object = try await catalog.object(call.account, bucket, key), !object.isExpired else {
            if try await catalog.container(call.account, bucket) == nil { throw S3Error.noSuchBucket(bucket) }
            throw S3Error.noSuchKey(key)
        }
        let body = try await LargeObjects(service: service).body(of: object, call: nil)
        let etag = body.etag.hasPrefix("\"") ? body.etag : "\"\(body.etag)\""
        var headers: HTTPFields = [
            .contentType: object.contentType, .etag: etag, .lastModified: HTTPDate.format(object.modified.date), .acceptRanges: "bytes",
        ]
        for (name, value) in object.meta {
            let header = name.hasPrefix("x-object-meta-") ? "x-amz-meta-" + name.dropFirst("x-object-meta-".count) : name
            if name != "x-object-manifest", let field = HTTPField.Name(header) { headers[field] = value }
        }
        for (parameter, header) in [("response-content-type", HTTPField.Name.contentType), ("response-content-disposition", .contentDisposition),
                                    ("response-content-encoding", .contentEncoding), ("response-content-language", .contentLanguage),
                                    ("response-cache-control", .cacheControl), ("response-expires", .expires)] {
            if let value = call.query(parameter) { headers[header] = value }
        }
        switch Conditions.evaluate(call.request, etag: etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), modified: object.modified.date) {
        case .notModified: return Response(status: .notModified, headers: [.etag: etag, .lastModified: headers[.lastModified] ?? ""])
        case .preconditionFailed: throw S3Error(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        case .proceed: break
        }
        let size = body.size
        if let ranges = ByteRanges.parse(call.header("Range"), size: size) {
            guard let range = ranges.first else {
                throw S3Error(.rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
            }
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            if call.method == .head { return Response(status: .partialContent, headers: headers) }
            return Response(status: .partialContent, headers: headers, body: blobs.read(body.pieces, range: range))
        }
        headers[.contentLength] = String(size)
        if call.method == .head || size == 0 { return Response(status: .ok, headers: headers) }
        if body.pieces.count == 1, size <= 65_536 {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: try await blobs.readAll(body.pieces[0])))
        }
        return Response(status: .ok, headers: headers, body: blobs.read(body.pieces, range: 0...(size - 1)))
    }

    /// `x-amz-copy-source: bucket/key`, within the caller's account.
    static func copySource(_ call: S3Request) throws -> (bucket: String, key: String) {
        var source = call.header("x-amz-copy-source") ?? ""
        if let q = source.range(of: "?versionId=") { source = String(source[..<q.lowerBound]) }
        source = source.removingPercentEncoding ?? source
        if source.hasPrefix("/") { source.removeFirst() }
        let parts = source.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey") }
        return (parts[0], parts[1])
    }

    func sourceBody(_ call: S3Request) async throws -> (ObjectRecord, ObjectBody) {
        let (sourceBucket, sourceKey) = try Self.copySource(call)
        guard let source = try await catalog.object(call.account, sourceBucket, sourceKey), !source.isExpired else {
            if try await catalog.container(call.account, sourceBucket) == nil { throw S3Error.noSuchBucket(sourceBucket) }
            throw S3Error.noSuchKey(sourceKey)
        }
        let body = try await LargeObjects(service: service).body(of: source, call: nil)
        let etag = body.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        if let match = call.header("x-amz-copy-source-if-match"), !Conditions.tags(match).contains(etag) {
            throw S3Error(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        if let match = call.header("x-amz-copy-source-if-none-match"), Conditions.tags(match).contains(etag) {
            throw S3Error(.preconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
        }
        return (source, body)
    }

    private func copy(_ call: S3Request, _ bucket: String, _ key: String) async throws -> Response {
        let record = try await bucketRecord(call, bucket)
        let (source, body) = try await sourceBody(call)
        let replace = call.header("x-amz-metadata-directive")?.uppercased() == "REPLACE"
        if source.container == bucket, source.name == key, !replace {
            throw S3Error(.badRequest, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
        }
        let meta = replace ? Self.metadata(call.request) : source.meta.filter { $0.key != "x-object-manifest" }
        _ = try await Quotas(catalog: catalog).bytesLeft(call.account, record, adding: body.size)
        let written = try await blobs.copy(body)
        let object = ObjectRecord(account: call.account, container: bucket, name: key, size: written.size, etag: written.md5,
                                  contentType: replace ? Self.contentType(call.request) : source.contentType, modified: Micros.now(),
                                  deleteAt: nil, files: written.piece.map { [$0] } ?? [], manifest: nil, meta: meta)
        try await ObjectRoutes(service: service).store(object)
        var xml = XMLWriter()
        xml.open("CopyObjectResult", namespace: true)
        xml.element("LastModified", object.modified.s3Time)
        xml.element("ETag", "\"\(object.etag)\"")
        xml.close("CopyObjectResult")
        return xml.response()
    }
}
