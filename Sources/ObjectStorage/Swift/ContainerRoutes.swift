import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// `/v1/AUTH_<project>/<container>`: create, list, metadata and ACLs, delete when empty.
struct ContainerRoutes {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }

    func handle(_ call: SwiftRequest, _ name: String) async throws -> Response {
        if call.method == .put, call.has("extract-archive") { return try await BulkRoutes(service: service).extract(call, container: name) }
        if FormPost.applies(call) { return try await FormPost(service: service).handle(call, container: name, prefix: "") }
        switch call.method {
        case .get, .head:
            if let page = try await StaticWeb(service: service).page(call, name) { return page }
            return try await show(call, name)
        case .put:
            guard call.owns else { throw call.access.denied }
            let fields = call.fields
            var preview = try await catalog.container(call.account, name)?.meta ?? [:]
            Metadata.merge("container", fields, into: &preview, settings: Metadata.containerSettings)
            try Metadata.validate("container", preview)
            let created = try await catalog.putContainer(call.account, name) {
                Metadata.merge("container", fields, into: &$0, settings: Metadata.containerSettings)
            }
            return Response(status: created ? .created : .accepted, headers: [.contentType: "text/html; charset=UTF-8"])
        case .post:
            guard call.owns else { throw call.access.denied }
            let fields = call.fields
            guard var preview = try await catalog.container(call.account, name)?.meta else { throw APIError.notFound("Not Found") }
            Metadata.merge("container", fields, into: &preview, settings: Metadata.containerSettings)
            try Metadata.validate("container", preview)
            guard try await catalog.updateContainer(call.account, name, {
                Metadata.merge("container", fields, into: &$0, settings: Metadata.containerSettings)
            }) else { throw APIError.notFound("Not Found") }
            return Response(status: .noContent)
        case .delete:
            guard call.owns else { throw call.access.denied }
            switch try await catalog.deleteContainer(call.account, name) {
            case .deleted: return Response(status: .noContent)
            case .notFound: throw APIError.notFound("Not Found")
            case .notEmpty: throw APIError.conflict("There was a conflict when trying to complete your request.")
            }
        default:
            throw APIError(.methodNotAllowed, "Method Not Allowed")
        }
    }

    private func show(_ call: SwiftRequest, _ name: String) async throws -> Response {
        let record = try await catalog.container(call.account, name)
        if !call.reads, !(record.map { call.access.canRead(acl: $0.meta["x-container-read"], listing: true) } ?? false) {
            throw call.access.denied
        }
        guard let record else { throw APIError.notFound("Not Found") }
        var headers: HTTPFields = [
            HTTPField.Name("X-Container-Object-Count")!: String(record.objectCount),
            HTTPField.Name("X-Container-Bytes-Used")!: String(record.bytesUsed),
            .timestamp: record.created.xTimestamp,
            HTTPField.Name("X-Storage-Policy")!: "Policy-0",
            .lastModified: HTTPDate.format(record.modified.date),
            .acceptRanges: "bytes",
        ]
        var meta = record.meta
        if !call.owns { meta["x-container-read"] = nil; meta["x-container-write"] = nil }
        Metadata.add(meta, to: &headers)
        if call.method == .head {
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .noContent, headers: headers)
        }
        let format = try ListingFormat(call.request)
        var query = try Listings.query(call)
        var objectsOnly = false
        if let path = call.query("path") {
            query.prefix = path.isEmpty || path.hasSuffix("/") ? path : path + "/"
            query.delimiter = "/"
            objectsOnly = true
        }
        headers[.contentType] = format.contentType
        let body: [UInt8]
        if format == .json {
            body = ListingFormat.json(Self.rowsOnly(try await catalog.listObjects(call.account, name, query, as: RenderedEntry.self), objectsOnly))
        } else {
            let items = Self.rowsOnly(try await catalog.listObjects(call.account, name, query), objectsOnly)
            if items.isEmpty && format == .plain { return Response(status: .noContent, headers: headers) }
            body = format.objects(items, container: name)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `path=` listings show objects only, not the subdirs below.
    static func rowsOnly<Row>(_ items: [Listed<Row>], _ apply: Bool) -> [Listed<Row>] {
        apply ? items.filter { if case .row = $0 { return true } else { return false } } : items
    }
}
