import Foundation
import Hummingbird
import MartletCore
import ServiceContracts

/// `/images`: Nova's view of the Image service, served until 2.36 removed it.
struct ImageProxyRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/images", rule: "os_compute_api:images") { try await list($0, detail: false) }
        r.get("/v2.1/images/detail", rule: "os_compute_api:images") { try await list($0, detail: true) }
        r.get("/v2.1/images/:image_id", rule: "os_compute_api:images") { call in
            .json(.ok, ["image": view(try await visible(call))])
        }
        r.delete("/v2.1/images/:image_id", rule: "os_compute_api:images:modify") { call in
            let image = try await visible(call)
            guard call.isComputeAdmin || image.owner == call.auth.projectID else {
                throw APIError.forbidden("You are not allowed to delete the image.")
            }
            try await service.images.deleteImage(id: image.id)
            return .empty(.noContent)
        }
        r.get("/v2.1/images/:image_id/metadata", rule: "os_compute_api:images") { call in
            .json(.ok, ["metadata": Self.strings(try await visible(call).properties)])
        }
        for (method, replace) in [(HTTPRequest.Method.post, false), (.put, true)] {
            r.on(method, "/v2.1/images/:image_id/metadata", rule: "os_compute_api:images:modify") { call in
                let items = try ServerInput.validMetadata(try JSONFields.body(try await call.body(), wrapper: "metadata").members)
                let image = try await edit(call) { current in replace ? items : current.merging(items) { _, new in new } }
                return .json(.ok, ["metadata": Self.strings(image.properties)])
            }
        }
        r.get("/v2.1/images/:image_id/metadata/:key", rule: "os_compute_api:images") { call in
            let key = try call.param("key")
            guard let value = try await visible(call).properties[key] else { throw APIError.notFound("Image metadata item \(key) not found.") }
            return .json(.ok, ["meta": .object([key: .string(value)])])
        }
        r.put("/v2.1/images/:image_id/metadata/:key", rule: "os_compute_api:images:modify") { call in
            let key = try call.param("key")
            let f = try JSONFields.body(try await call.body(), wrapper: "meta")
            guard f.members.count == 1, f.members[key] != nil else { throw APIError.badRequest("Request body and URI mismatch") }
            let items = try ServerInput.validMetadata(f.members)
            _ = try await edit(call) { $0.merging(items) { _, new in new } }
            return .json(.ok, ["meta": Self.strings(items)])
        }
        r.delete("/v2.1/images/:image_id/metadata/:key", rule: "os_compute_api:images:modify") { call in
            let key = try call.param("key")
            _ = try await edit(call) { current in
                guard current[key] != nil else { throw APIError.notFound("Image metadata item \(key) not found.") }
                return current.filter { $0.key != key }
            }
            return .empty(.noContent)
        }
    }

    static func strings(_ m: [String: String]) -> JSON { .object(m.mapValues { .string($0) }) }

    private func requireProxy(_ call: APICall) throws {
        guard service.version(call) < Microversion(2, 36) else { throw APIError.notFound("The resource could not be found.") }
    }

    private func visible(_ call: APICall) async throws -> BootImage {
        try requireProxy(call)
        let id = try call.param("image_id")
        guard let image = try await service.images.bootImage(id: id, projectID: call.auth.projectID, isAdmin: call.isComputeAdmin) else {
            throw APIError.notFound("Image not found.")
        }
        return image
    }

    private func edit(_ call: APICall, _ change: @escaping @Sendable ([String: String]) throws -> [String: String]) async throws -> BootImage {
        let image = try await visible(call)
        guard call.isComputeAdmin || image.owner == call.auth.projectID else {
            throw APIError.forbidden("You are not allowed to change the image's metadata.")
        }
        let limit = try await service.db.read { try await service.quotas.limits(image.owner ?? "", in: $0)["metadata_items"] } ?? -1
        guard let edited = try await service.images.editProperties(id: image.id, { current in
            let next = try change(current)
            if limit >= 0 && next.count > limit { throw APIError.forbidden("Quota exceeded for metadata_items: at most \(limit) items.") }
            return next
        }) else { throw APIError.notFound("Image not found.") }
        return edited
    }

    private func list(_ call: APICall, detail: Bool) async throws -> Response {
        try requireProxy(call)
        let q = call.queryItems
        var images = try await service.images.visibleImages(projectID: call.auth.projectID, isAdmin: call.isComputeAdmin)
        if let name = q["name"] { images = images.filter { $0.name == name } }
        if let status = q["status"] { images = images.filter { Self.status($0.status) == status.uppercased() } }
        if let server = q["server"] {
            let id = server.split(separator: "/").last.map(String.init) ?? server
            images = images.filter { $0.properties["instance_uuid"] == id }
        }
        if let type = q["type"] {
            images = images.filter { ($0.properties["image_type"] == "snapshot") == (type.lowercased() == "snapshot") }
        }
        if let since = q["changes-since"] {
            guard let date = Timestamp.parse(since) else { throw APIError.badRequest("Invalid changes-since value") }
            images = images.filter { $0.updatedAt >= date.timeIntervalSince1970 }
        }
        let after = try Pagination.after(q["marker"], in: images, id: \.id, notFound: ComputeFault.markerNotFound)
        images = Array(Pagination.page(after, limit: try Pagination.limit(q["limit"], max: .max, invalid: ComputeFault.invalidLimit)).items)
        return .json(.ok, ["images": .array(images.map { detail ? view($0) : summary($0) })])
    }

    private func links(_ id: String) -> JSON {
        let glance = service.links.base.replacingOccurrences(of: "/compute", with: "/image")
        return .array(service.links.json("images", id).array + [["rel": "alternate", "type": "application/vnd.openstack.image", "href": .string("\(glance)/images/\(id)")]])
    }

    private func summary(_ i: BootImage) -> JSON { ["id": .string(i.id), "name": JSON(i.name), "links": links(i.id)] }

    /// Glance's status as Nova names it.
    static func status(_ glance: String) -> String {
        switch glance {
        case "active": return "ACTIVE"
        case "saving", "queued", "importing", "uploading": return "SAVING"
        case "deleted", "pending_delete": return "DELETED"
        case "killed": return "ERROR"
        default: return "UNKNOWN"
        }
    }

    private func view(_ i: BootImage) -> JSON {
        let status = Self.status(i.status)
        var body: [String: JSON] = [
            "id": .string(i.id), "name": JSON(i.name), "status": .string(status), "minDisk": JSON(i.minDisk), "minRam": JSON(i.minRam),
            "progress": status == "ACTIVE" ? 100 : status == "SAVING" ? 25 : 0, "metadata": Self.strings(i.properties),
            "created": .string(NovaTime.server(i.createdAt)), "updated": .string(NovaTime.server(i.updatedAt)), "links": links(i.id),
            "OS-EXT-IMG-SIZE:size": i.size.map { .int($0) } ?? nil,
        ]
        if let server = i.properties["instance_uuid"] { body["server"] = ["id": .string(server), "links": service.links.json("servers", server)] }
        return .object(body)
    }
}
