import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// `/v1/AUTH_<project>`: its listing, counters and metadata (made on first use, never deleted).
struct AccountRoutes {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }
    static let quotaHeaders: Set<String> = ["x-account-meta-quota-bytes", "x-account-quota-count", "x-remove-account-meta-quota-bytes"]

    func handle(_ call: SwiftRequest) async throws -> Response {
        if call.method == .put, call.has("extract-archive") { return try await BulkRoutes(service: service).extract(call, container: nil) }
        if (call.method == .post || call.method == .delete), call.has("bulk-delete") { return try await BulkRoutes(service: service).delete(call) }
        guard [.get, .head].contains(call.method) ? call.reads : call.owns else { throw call.access.denied }
        switch call.method {
        case .get, .head: return try await show(call)
        case .post:
            let fields = call.fields
            if fields.contains(where: { Self.quotaHeaders.contains($0.name) }), !call.access.isReseller {
                throw APIError.forbidden("Only a reseller admin may set account quotas.")
            }
            let current = try await catalog.account(call.account)?.meta ?? [:]
            var meta = current
            Metadata.merge("account", fields, into: &meta)
            for (name, value) in fields where name == "x-account-quota-count" { meta[name] = value.isEmpty ? nil : value }
            try Metadata.validate("account", meta)
            try await catalog.updateAccount(call.account) { stored in
                Metadata.merge("account", fields, into: &stored)
                for (name, value) in fields where name == "x-account-quota-count" { stored[name] = value.isEmpty ? nil : value }
            }
            return Response(status: .noContent)
        default:
            throw APIError(.methodNotAllowed, "Method Not Allowed")
        }
    }

    private func show(_ call: SwiftRequest) async throws -> Response {
        let record = try await catalog.account(call.account)
        let usage = try await catalog.usage(call.account)
        var headers: HTTPFields = [
            HTTPField.Name("X-Account-Container-Count")!: String(usage.containers),
            HTTPField.Name("X-Account-Object-Count")!: String(usage.objects),
            HTTPField.Name("X-Account-Bytes-Used")!: String(usage.bytes),
            .timestamp: (record?.created ?? Micros.now()).xTimestamp,
            .acceptRanges: "bytes",
        ]
        if usage.containers > 0 {
            headers[HTTPField.Name("X-Account-Storage-Policy-Policy-0-Container-Count")!] = String(usage.containers)
            headers[HTTPField.Name("X-Account-Storage-Policy-Policy-0-Object-Count")!] = String(usage.objects)
            headers[HTTPField.Name("X-Account-Storage-Policy-Policy-0-Bytes-Used")!] = String(usage.bytes)
        }
        Metadata.add(record?.meta ?? [:], to: &headers)
        if call.method == .head {
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .noContent, headers: headers)
        }
        let format = try ListingFormat(call.request)
        let items = try await catalog.listContainers(call.account, try Listings.query(call))
        headers[.contentType] = format.contentType
        if items.isEmpty && format == .plain { return Response(status: .noContent, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: format.containers(items, account: call.account))))
    }
}

/// Reading listing parameters.
enum Listings {
    static func query(_ call: SwiftRequest) throws -> ListQuery {
        var q = ListQuery()
        if let limit = call.query("limit") {
            guard let n = Int(limit), n >= 0 else { throw APIError.preconditionFailed("Value of limit must be a positive integer") }
            guard n <= Limits.listingLimit else { throw APIError.preconditionFailed("Maximum limit is \(Limits.listingLimit)") }
            q.limit = n
        }
        q.prefix = call.query("prefix") ?? ""
        q.delimiter = call.query("delimiter")
        q.marker = call.query("marker")
        q.endMarker = call.query("end_marker")
        q.reverse = ["true", "1", "yes", "on", "t", "y"].contains(call.query("reverse")?.lowercased() ?? "")
        return q
    }
}
