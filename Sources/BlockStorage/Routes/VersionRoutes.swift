import Foundation
import Hummingbird
import MartletCore

/// Version discovery: `/volume/` lists the one version, `/volume/v3/` describes it.
struct VersionRoutes {
    let service: BlockStorageService

    func register(_ r: PolicyRouter) {
        r.get("", rule: nil) { _ in .json(.multipleChoices, ["versions": [version()]]) }
        r.get("/v3", rule: nil) { _ in .json(.ok, ["versions": [version()]]) }
    }

    private func version() -> JSON {
        let range = BlockStorageService.versions
        return [
            "id": "v3.0", "status": "CURRENT", "version": .string(range.maximum.description), "min_version": .string(range.minimum.description),
            "updated": "2026-12-01T00:00:00Z",
            "links": [["rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"],
                      ["rel": "self", "href": .string("\(service.publicURL)/volume/v3/")]],
            "media-types": [["base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"]],
        ]
    }
}
