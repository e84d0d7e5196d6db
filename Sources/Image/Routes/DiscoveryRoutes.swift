import Foundation
import Hummingbird
import MartletCore

/// Version discovery (`/image`, `/image/versions`), JSON schemas and `/v2/info/*`.
struct DiscoveryRoutes {
    let service: ImageService

    /// Every v2 minor version claimed; the last is current.
    static let versions = ["2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9",
                           "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "2.17"]

    func versionList(_ request: Request) -> JSON {
        let base = "\(service.publicURL)/image/v2/"
        return ["versions": .array(Self.versions.reversed().map { v in
            ["id": .string("v\(v)"), "status": .string(v == Self.versions.last ? "CURRENT" : "SUPPORTED"),
             "links": [["rel": "self", "href": .string(base)]]]
        })]
    }

    func register(_ group: RouterGroup<MartletContext>, _ r: PolicyRouter) {
        group.get("") { request, _ -> Response in .json(.multipleChoices, versionList(request)) }
        group.get("/versions") { request, _ -> Response in .json(.ok, versionList(request)) }
        group.get("/v2") { request, _ -> Response in .json(.multipleChoices, versionList(request)) }

        r.get("/v2/schemas/image", rule: "image:get_schema") { _ in .json(.ok, ImageSchemas.image) }
        r.get("/v2/schemas/images", rule: "image:get_schema") { _ in .json(.ok, ImageSchemas.images) }
        r.get("/v2/schemas/member", rule: "image:get_schema") { _ in .json(.ok, ImageSchemas.member) }
        r.get("/v2/schemas/members", rule: "image:get_schema") { _ in .json(.ok, ImageSchemas.members) }
        r.get("/v2/schemas/metadefs/:name", rule: "image:get_schema") { call in
            let name = try call.param("name")
            guard let schema = ImageSchemas.metadefs[name] else { throw APIError.notFound("No schema named metadefs/\(name).") }
            return .json(.ok, schema)
        }

        // The tasks API is deprecated in Glance; image import replaces it.
        r.get("/v2/tasks", rule: "image:get_tasks") { _ in .json(.ok, ["tasks": [], "first": "/v2/tasks", "schema": "/v2/schemas/tasks"]) }
        r.post("/v2/tasks", rule: "image:add_task") { _ in
            throw APIError.badRequest("Tasks are not supported; use image import (/v2/images/{id}/import, methods in /v2/info/import).")
        }
        r.get("/v2/info/import", rule: "image:get_info") { _ in
            .json(.ok, ["import-methods": ["description": "Import methods available.", "type": "array", "value": ["glance-direct"]]])
        }
        r.get("/v2/info/stores", rule: "image:get_info") { _ in
            .json(.ok, ["stores": [["id": "file", "default": true, "description": "Image data on the server's local disk."]]])
        }
        r.get("/v2/info/usage", rule: "image:get_info") { call in
            let project = call.auth.projectID ?? ""
            let (count, bytes) = try await service.repo.db.read { try await service.repo.usage(owner: project, in: $0) }
            func entry(_ limit: Int64?, _ usage: Int64) -> JSON { ["limit": .int(limit ?? -1), "usage": .int(usage)] }
            return .json(.ok, ["usage": [
                "image_size_total": entry(service.quotas.bytes, bytes),
                "image_count_total": entry(service.quotas.images.map(Int64.init), Int64(count)),
                "image_stage_total": entry(service.quotas.bytes, 0),
                "image_count_uploading": entry(nil, 0),
            ]])
        }
    }
}
