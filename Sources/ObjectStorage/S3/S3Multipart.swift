import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Multipart uploads: parts are files of their own; completing one makes an object whose bytes
/// are those files in order (nothing is copied), with S3's `md5(part md5s)-N` ETag.
struct S3Multipart {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }
    static let minPartSize: Int64 = 5 << 20
    static let maxParts = 10_000

    func handle(_ call: S3Request, _ bucket: String, _ key: String) async throws -> Response {
        if call.method == .post, call.has("uploads") { return try await create(call, bucket, key) }
        guard let id = call.query("uploadId") else { throw S3Error.invalidArgument("uploadId is required") }
        guard let upload = try await catalog.upload(id), upload.account == call.account, upload.container == bucket,
              upload.name.utf8.elementsEqual(key.utf8) else { throw S3Error.noSuchUpload(id) }
        switch call.method {
        case .put: return try await uploadPart(call, upload)
        case .get: return try await listParts(call, upload)
        case .post: return try await complete(call, upload)
        case .delete:
            guard let files = try await catalog.deleteUpload(id) else { throw S3Error.noSuchUpload(id) }
            await service.blobs.delete(files)
            return Response(status: .noContent)
        default: throw S3Error(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
    }

    private func create(_ call: S3Request, _ bucket: String, _ key: String) async throws -> Response {
        guard try await catalog.container(call.account, bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        let meta = S3Objects.metadata(call.request)
        try Metadata.validate("object", meta)
        let upload = Upload(id: BlobStore.newID(), account: call.account, container: bucket, name: key,
                            contentType: S3Objects.contentType(call.request), meta: meta)
        try await catalog.createUpload(upload)
        var xml = XMLWriter()
        xml.open("InitiateMultipartUploadResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", upload.id)
        xml.close("InitiateMultipartUploadResult")
        return xml.response()
    }

    private func uploadPart(_ call: S3Request, _ upload: Upload) async throws -> Response {
        guard let number = call.query("partNumber").flatMap(Int.init), (1...Self.maxParts).contains(number) else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Self.maxParts), inclusive")
        }
        let written: Written
        var copyResult = false
        if call.header("x-amz-copy-source") != nil {
            var (_, body) = try await S3Objects(service: service).sourceBody(call)
            if let rangeText = call.header("x-amz-copy-source-range") {
                guard let range = ByteRanges.parse(rangeText, size: body.size)?.first else {
                    throw S3Error(.rangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
                }
                body = ObjectBody(pieces: LargeObjects.cut(body.pieces, range), size: Int64(range.count), etag: "", md5: nil)
            }
            written = try await service.blobs.copy(body)
            copyResult = true
        } else {
            written = try await call.writeBody(service.blobs, limit: Limits.maxFileSize)
        }
        // An empty part has no file: "" names none, and the store never deletes it.
        let file = written.piece?.file ?? ""
        let outcome = try await catalog.putPart(uploadID: upload.id, number: number, size: written.size, etag: written.md5, file: file)
        guard outcome.exists else {
            await service.blobs.delete([file])
            throw S3Error.noSuchUpload(upload.id)
        }
        if let replaced = outcome.replaced { await service.blobs.delete([replaced]) }
        if copyResult {
            var xml = XMLWriter()
            xml.open("CopyPartResult", namespace: true)
            xml.element("LastModified", Micros.now().s3Time)
            xml.element("ETag", "\"\(written.md5)\"")
            xml.close("CopyPartResult")
            return xml.response()
        }
        return Response(status: .ok, headers: [.etag: "\"\(written.md5)\""])
    }

    private func listParts(_ call: S3Request, _ upload: Upload) async throws -> Response {
        let marker = call.query("part-number-marker").flatMap(Int.init) ?? 0
        let maxParts = min(call.query("max-parts").flatMap(Int.init) ?? 1000, 1000)
        let all = try await catalog.parts(upload.id).filter { $0.number > marker }
        let page = Array(all.prefix(maxParts))
        var xml = XMLWriter()
        xml.open("ListPartsResult", namespace: true)
        xml.element("Bucket", upload.container)
        xml.element("Key", upload.name)
        xml.element("UploadId", upload.id)
        xml.element("PartNumberMarker", marker)
        xml.element("NextPartNumberMarker", page.last?.number ?? marker)
        xml.element("MaxParts", maxParts)
        xml.element("IsTruncated", all.count > page.count ? "true" : "false")
        xml.element("StorageClass", "STANDARD")
        for part in page {
            xml.open("Part")
            xml.element("PartNumber", part.number)
            xml.element("LastModified", part.modified.s3Time)
            xml.element("ETag", "\"\(part.etag)\"")
            xml.element("Size", part.size)
            xml.close("Part")
        }
        xml.close("ListPartsResult")
        return xml.response()
    }

    private func complete(_ call: S3Request, _ upload: Upload) async throws -> Response {
        let body = try await call.smallBody()
        let listed = XMLReader.elements("Part", in: body).map { part -> (Int?, String?) in
            (XMLReader.value("PartNumber", in: part).flatMap { Int($0.trimmingCharacters(in: .whitespaces)) },
             XMLReader.value("ETag", in: part)?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")))
        }
        guard !listed.isEmpty, listed.allSatisfy({ $0.0 != nil && $0.1 != nil }) else { throw S3Error.malformedXML }
        let numbers = listed.map { $0.0! }
        guard zip(numbers, numbers.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw S3Error(.badRequest, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order of the part number.")
        }
        let stored = Dictionary(uniqueKeysWithValues: try await catalog.parts(upload.id).map { ($0.number, $0) })
        var chosen: [Part] = []
        for (number, etag) in listed {
            guard let part = stored[number!], part.etag == etag!.lowercased() else {
                throw S3Error(.badRequest, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
            }
            chosen.append(part)
        }
        for part in chosen.dropLast() where part.size < Self.minPartSize {
            throw S3Error(.badRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
        }
        var md5 = Insecure.MD5()
        for part in chosen {
            var bytes: [UInt8] = []
            var i = part.etag.startIndex
            while i < part.etag.endIndex {
                let next = part.etag.index(i, offsetBy: 2)
                bytes.append(UInt8(part.etag[i..<next], radix: 16) ?? 0)
                i = next
            }
            md5.update(data: bytes)
        }
        let etag = "\(md5.finalize().hex)-\(chosen.count)"
        let object = ObjectRecord(account: upload.account, container: upload.container, name: upload.name,
                                  size: chosen.reduce(0) { $0 + $1.size }, etag: etag, contentType: upload.contentType, modified: Micros.now(),
                                  deleteAt: nil, files: chosen.filter { $0.size > 0 }.map { Piece(file: $0.file, size: $0.size) }, manifest: nil, meta: upload.meta)
        let id = upload.id
        try await ObjectRoutes(service: service).store(object, also: { db in _ = try await catalog.deleteUpload(id, in: db) })
        let used = Set(object.files.map(\.file))
        await service.blobs.delete(stored.values.map(\.file).filter { !used.contains($0) })
        var xml = XMLWriter()
        xml.open("CompleteMultipartUploadResult", namespace: true)
        xml.element("Location", "/\(upload.container)/\(upload.name)")
        xml.element("Bucket", upload.container)
        xml.element("Key", upload.name)
        xml.element("ETag", "\"\(etag)\"")
        xml.close("CompleteMultipartUploadResult")
        return xml.response()
    }

    func listUploads(_ call: S3Request, _ bucket: String) async throws -> Response {
        let maxUploads = min(call.query("max-uploads").flatMap(Int.init) ?? 1000, 1000)
        let uploads = try await catalog.uploads(call.account, bucket, prefix: call.query("prefix") ?? "", limit: maxUploads + 1)
        var xml = XMLWriter()
        xml.open("ListMultipartUploadsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", call.query("key-marker") ?? "")
        xml.element("UploadIdMarker", call.query("upload-id-marker") ?? "")
        xml.element("MaxUploads", maxUploads)
        xml.element("IsTruncated", uploads.count > maxUploads ? "true" : "false")
        for upload in uploads.prefix(maxUploads) {
            xml.open("Upload")
            xml.element("Key", upload.name)
            xml.element("UploadId", upload.id)
            xml.open("Initiator"); xml.element("ID", call.caller.credential.userID); xml.close("Initiator")
            xml.open("Owner"); xml.element("ID", call.caller.credential.projectID); xml.close("Owner")
            xml.element("StorageClass", "STANDARD")
            xml.element("Initiated", upload.created.s3Time)
            xml.close("Upload")
        }
        xml.close("ListMultipartUploadsResult")
        return xml.response()
    }
}
