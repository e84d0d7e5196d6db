import Hummingbird
import MartletCore

/// Version discovery: `/compute` lists v2.0 and v2.1; `/compute/v2.1` describes the current one.
struct VersionRoutes {
    let service: ComputeService

    func register(_ group: RouterGroup<MartletContext>) {
        let list: @Sendable (Request, MartletContext) async throws -> Response = { _, _ in
            .json(.ok, ["versions": [version("v2.0"), version("v2.1")]])
        }
        group.get("", use: list)
        group.get("/v2.1") { _, _ -> Response in Response.json(.ok, ["version": version("v2.1", full: true)]) }
        group.get("/v2") { _, _ -> Response in Response.json(.ok, ["version": version("v2.0", full: true)]) }
    }

    private func version(_ id: String, full: Bool = false) -> JSON {
        let current = id == "v2.1"
        var doc: [String: JSON] = [
            "id": .string(id), "status": current ? "CURRENT" : "SUPPORTED",
            "version": current ? .string(ComputeService.versions.maximum.description) : "",
            "min_version": current ? .string(ComputeService.versions.minimum.description) : "",
            "updated": current ? "2013-07-23T11:33:21Z" : "2011-01-21T11:33:21Z",
            "links": [["rel": "self", "href": .string("\(service.links.base)/\(current ? "v2.1" : "v2")/")]],
        ]
        if full {
            doc["media-types"] = [["base": "application/json",
                                   "type": .string("application/vnd.openstack.compute+json;version=\(current ? "2.1" : "2")")]]
            doc["links"] = .array(doc["links"]!.array + [["rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"]])
        }
        return .object(doc)
    }
}
