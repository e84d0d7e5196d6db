import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Buckets: list, create, head, delete, location, and the object listings (v1 and v2).
struct S3Buckets {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }

    func listBuckets(_ call: S3Request) async throws -> Response {
        var query = ListQuery()
        query.limit = Limits.listingLimit
        let containers = try await catalog.listContainers(call.account, query)
        var xml = XMLWriter()
        xml.open("ListAllMyBucketsResult", namespace: true)
        owner(&xml, call)
        xml.open("Buckets")
        for case .row(let c) in containers {
            xml.open("Bucket")
            xml.element("Name", c.name)
            xml.element("CreationDate", c.created.s3Time)
            xml.close("Bucket")
        }
        xml.close("Buckets")
        xml.close("ListAllMyBucketsResult")
        return xml.response()
    }

    func owner(_ xml: inout XMLWriter, _ call: S3Request) {
        xml.open("Owner")
        xml.element("ID", call.caller.credential.projectID)
        xml.element("DisplayName", call.caller.credential.projectID)
        xml.close("Owner")
    }

    func handle(_ call: S3Request, _ bucket: String) async throws -> Response {
        switch call.method {
        case .put:
            guard Self.validName(bucket) else {
                throw S3Error(.badRequest, "InvalidBucketName", "The specified bucket is not valid.", resource: bucket)
            }
            if call.has("acl") || call.has("versioning") || call.has("tagging") || call.has("cors") || call.has("policy") {
                guard try await catalog.container(call.account, bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
                return Response(status: .ok)
            }
            _ = try? await call.smallBody()
            guard try await catalog.putContainer(call.account, bucket, { _ in }) else {
                throw S3Error(.conflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", resource: bucket)
            }
            return Response(status: .ok, headers: [.location: "/" + bucket])
        case .head:
            guard try await catalog.container(call.account, bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
            return Response(status: .ok, headers: [HTTPField.Name("x-amz-bucket-region")!: "us-east-1"])
        case .delete:
            switch try await catalog.deleteContainer(call.account, bucket) {
            case .deleted: return Response(status: .noContent)
            case .notFound: throw S3Error.noSuchBucket(bucket)
            case .notEmpty: throw S3Error(.conflict, "BucketNotEmpty", "The bucket you tried to delete is not empty", resource: bucket)
            }
        case .post:
            guard call.has("delete") else { throw S3Error(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.") }
            return try await deleteObjects(call, bucket)
        case .get:
            guard try await catalog.container(call.account, bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
            if call.has("location") {
                var xml = XMLWriter()
                xml.open("LocationConstraint", namespace: true)
                xml.close("LocationConstraint")
                return xml.response()
            }
            if call.has("versioning") {
                var xml = XMLWriter()
                xml.open("VersioningConfiguration", namespace: true)
                xml.close("VersioningConfiguration")
                return xml.response()
            }
            if call.has("uploads") { return try await S3Multipart(service: service).listUploads(call, bucket) }
            for unsupported in ["acl", "policy", "cors", "lifecycle", "tagging", "website", "logging", "notification", "versions", "encryption", "object-lock"]
                where call.has(unsupported) {
                throw S3Error(.notImplemented, "NotImplemented", "The \(unsupported) subresource is not implemented.")
            }
            return try await list(call, bucket)
        default:
            throw S3Error(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
    }

    /// S3 bucket names: 3 to 63 of `a-z 0-9 . -`, starting and ending with a letter or digit.
    static func validName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count), let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == 46 || $0 == 45 } && !name.contains("..")
    }

    // MARK: Listing

    private func list(_ call: S3Request, _ bucket: String) async throws -> Response {
        let v2 = call.query("list-type") == "2"
        let maxKeys = min(call.query("max-keys").flatMap(Int.init) ?? 1000, 1000)
        guard maxKeys >= 0 else { throw S3Error.invalidArgument("max-keys must be non-negative") }
        let urlEncoding = call.query("encoding-type") == "url"
        var query = ListQuery()
        query.prefix = call.query("prefix") ?? ""
        query.delimiter = call.query("delimiter")
        query.limit = maxKeys + 1
        let token = call.query("continuation-token")
        if v2 {
            if let token {
                guard let data = Data(base64Encoded: token), let after = String(data: data, encoding: .utf8) else {
                    throw S3Error.invalidArgument("The continuation token provided is incorrect")
                }
                query.marker = after
            } else {
                query.marker = call.query("start-after")
            }
        } else {
            query.marker = call.query("marker")
        }
        var items = maxKeys == 0 ? [] : try await catalog.listObjects(call.account, bucket, query)
        let truncated = items.count > maxKeys
        if truncated { items.removeLast() }
        let lastName: String? = items.last.map { if case .row(let o) = $0 { return o.name } else if case .subdir(let s) = $0 { return s } else { return "" } }
        func text(_ s: String) -> String { urlEncoding ? S3Auth.encode(s, keepSlash: true) : s }

        var xml = XMLWriter()
        xml.open("ListBucketResult", namespace: true)
        xml.element("Name", bucket)
        xml.element("Prefix", text(query.prefix))
        if v2 {
            if let token { xml.element("ContinuationToken", token) }
            if let start = call.query("start-after") { xml.element("StartAfter", text(start)) }
            xml.element("KeyCount", items.count)
        } else {
            xml.element("Marker", text(query.marker ?? ""))
            if truncated, let lastName { xml.element("NextMarker", text(lastName)) }
        }
        if let delimiter = query.delimiter { xml.element("Delimiter", text(delimiter)) }
        xml.element("MaxKeys", maxKeys)
        if urlEncoding { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", truncated ? "true" : "false")
        if v2, truncated, let lastName { xml.element("NextContinuationToken", Data(lastName.utf8).base64EncodedString()) }
        let fetchOwner = !v2 || call.query("fetch-owner") == "true"
        for case .row(let o) in items {
            xml.open("Contents")
            xml.element("Key", text(o.name))
            xml.element("LastModified", o.modified.s3Time)
            xml.element("ETag", "\"\(o.etag)\"")
            xml.element("Size", o.size)
            if fetchOwner { owner(&xml, call) }
            xml.element("StorageClass", "STANDARD")
            xml.close("Contents")
        }
        for case .subdir(let prefix) in items {
            xml.open("CommonPrefixes")
            xml.element("Prefix", text(prefix))
            xml.close("CommonPrefixes")
        }
        xml.close("ListBucketResult")
        return xml.response()
    }

    // MARK: DeleteObjects

    private func deleteObjects(_ call: S3Request, _ bucket: String) async throws -> Response {
        let body = try await call.smallBody()
        guard body.contains("<Delete") else { throw S3Error.malformedXML }
        let quiet = XMLReader.value("Quiet", in: body) == "true"
        let keys = XMLReader.elements("Object", in: body).compactMap { XMLReader.value("Key", in: $0) }
        guard keys.count <= 1000 else { throw S3Error.malformedXML }
        guard try await catalog.container(call.account, bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        var xml = XMLWriter()
        xml.open("DeleteResult", namespace: true)
        for key in keys {
            if let old = try await catalog.deleteObject(call.account, bucket, key) { await service.blobs.delete(old.files.map(\.file)) }
            if !quiet {
                xml.open("Deleted")
                xml.element("Key", key)
                xml.close("Deleted")
            }
        }
        xml.close("DeleteResult")
        return xml.response()
    }
}
