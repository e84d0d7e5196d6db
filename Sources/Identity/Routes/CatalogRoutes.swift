import Foundation
import Hummingbird
import MartletCore

/// Regions, services and endpoints: the catalog's parts.
struct CatalogRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/regions", rule: "identity:list_regions") { call in
            let parent = call.query("parent_region_id")
            let regions = try await store.allRegions().filter { parent == nil || $0.parentRegionID == parent }
            return .json(.ok, ["regions": .array(regions.map { $0.json(store) }), "links": store.collectionLinks("regions")])
        }
        r.post("/v3/regions", rule: "identity:create_region") { call in
            try await createRegion(call, id: nil)
        }
        r.put("/v3/regions/:region_id", rule: "identity:create_region") { call in
            try await createRegion(call, id: try call.param("region_id"))
        }
        r.get("/v3/regions/:region_id", rule: "identity:get_region") { call in
            .json(.ok, ["region": try await region(try call.param("region_id")).json(store)])
        }
        r.patch("/v3/regions/:region_id", rule: "identity:update_region") { call in
            var region = try await region(try call.param("region_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "region")
            if f.has("description") { region.description = try f.string("description", maxLength: 255, nullable: true) ?? "" }
            if f.has("parent_region_id") {
                region.parentRegionID = try await parentRegion(f, own: region.id)
            }
            for (key, value) in f.extras(excluding: ["id", "description", "parent_region_id", "links"]) { region.extra[key] = value }
            try await store.transaction { try await store.update(region, in: $0) }
            return .json(.ok, ["region": region.json(store)])
        }
        r.delete("/v3/regions/:region_id", rule: "identity:delete_region") { call in
            let region = try await region(try call.param("region_id"))
            try await store.transaction { db in
                if try await store.hasChildRegions(region.id, in: db) {
                    throw APIError.forbidden("Cannot delete region \(region.id): it has child regions.")
                }
                try await store.deleteRegion(region.id, in: db)
            }
            return .empty()
        }

        r.get("/v3/services", rule: "identity:list_services") { call in
            let type = call.query("type"), name = call.query("name")
            let services = try await store.allServices().filter { (type == nil || $0.type == type) && (name == nil || $0.name == name) }
            return .json(.ok, ["services": .array(services.map { $0.json(store) }), "links": store.collectionLinks("services")])
        }
        r.post("/v3/services", rule: "identity:create_service") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "service")
            let s = CatalogService(id: Identifier.hex(), type: try f.requiredString("type", maxLength: 255), enabled: try f.bool("enabled") ?? true,
                                   extra: f.extras(excluding: ["id", "type", "enabled", "links"]))
            if let name = s.extra["name"], name.stringValue == nil, name != .null { throw APIError.badRequest("Invalid input for field 'service.name': expected a string.") }
            try await store.transaction { try await store.insert(s, in: $0) }
            return .json(.created, ["service": s.json(store)])
        }
        r.get("/v3/services/:service_id", rule: "identity:get_service") { call in
            .json(.ok, ["service": try await catalogService(try call.param("service_id")).json(store)])
        }
        r.patch("/v3/services/:service_id", rule: "identity:update_service") { call in
            var s = try await catalogService(try call.param("service_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "service")
            if let type = try f.string("type", minLength: 1, maxLength: 255) { s.type = type }
            if let enabled = try f.bool("enabled") { s.enabled = enabled }
            for (key, value) in f.extras(excluding: ["id", "type", "enabled", "links"]) { s.extra[key] = value }
            try await store.transaction { try await store.update(s, in: $0) }
            return .json(.ok, ["service": s.json(store)])
        }
        r.delete("/v3/services/:service_id", rule: "identity:delete_service") { call in
            let s = try await catalogService(try call.param("service_id"))
            try await store.transaction { try await store.deleteService(s.id, in: $0) }
            return .empty()
        }

        r.get("/v3/endpoints", rule: "identity:list_endpoints") { call in
            let q = call.queryItems
            let endpoints = try await store.read { try await store.allEndpoints(in: $0) }.filter { e in
                (q["interface"] == nil || e.interface == q["interface"]) && (q["service_id"] == nil || e.serviceID == q["service_id"])
                    && (q["region_id"] == nil || e.regionID == q["region_id"])
            }
            return .json(.ok, ["endpoints": .array(endpoints.map { $0.json(store) }), "links": store.collectionLinks("endpoints")])
        }
        r.post("/v3/endpoints", rule: "identity:create_endpoint") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "endpoint")
            var e = Endpoint(id: Identifier.hex(), serviceID: try f.requiredString("service_id", maxLength: 64),
                             interface: try f.requiredString("interface"), regionID: nil,
                             url: try f.requiredString("url", maxLength: 225), enabled: try f.bool("enabled") ?? true,
                             extra: f.extras(excluding: Self.endpointKnown))
            try await checkEndpoint(&e, f)
            let endpoint = e
            try await store.transaction { try await store.insert(endpoint, in: $0) }
            return .json(.created, ["endpoint": endpoint.json(store)])
        }
        r.get("/v3/endpoints/:endpoint_id", rule: "identity:get_endpoint") { call in
            .json(.ok, ["endpoint": try await endpoint(try call.param("endpoint_id")).json(store)])
        }
        r.patch("/v3/endpoints/:endpoint_id", rule: "identity:update_endpoint") { call in
            var e = try await endpoint(try call.param("endpoint_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "endpoint")
            if let serviceID = try f.string("service_id", maxLength: 64) { e.serviceID = serviceID }
            if let interface = try f.string("interface") { e.interface = interface }
            if let url = try f.string("url", minLength: 1, maxLength: 225) { e.url = url }
            if let enabled = try f.bool("enabled") { e.enabled = enabled }
            for (key, value) in f.extras(excluding: Self.endpointKnown) { e.extra[key] = value }
            try await checkEndpoint(&e, f)
            let endpoint = e
            try await store.transaction { try await store.update(endpoint, in: $0) }
            return .json(.ok, ["endpoint": endpoint.json(store)])
        }
        r.delete("/v3/endpoints/:endpoint_id", rule: "identity:delete_endpoint") { call in
            let e = try await endpoint(try call.param("endpoint_id"))
            try await store.transaction { try await store.deleteEndpoint(e.id, in: $0) }
            return .empty()
        }
    }

    static let endpointKnown: Set<String> = ["id", "service_id", "interface", "region", "region_id", "url", "enabled", "links"]

    private func createRegion(_ call: APICall, id: String?) async throws -> Response {
        let f = try JSONFields.body(try await call.body(), wrapper: "region")
        let bodyID = try f.string("id", minLength: 1, maxLength: 255)
        if let id, let bodyID, id != bodyID { throw APIError.badRequest("Invalid input for field 'region.id': it differs from the URL.") }
        let region = Region(id: id ?? bodyID ?? Identifier.hex(), description: try f.string("description", maxLength: 255, nullable: true) ?? "",
                            parentRegionID: try await parentRegion(f, own: nil), extra: f.extras(excluding: ["id", "description", "parent_region_id", "links"]))
        try await store.write(conflict: "Conflict occurred attempting to store region - Duplicate ID, \(region.id).") { try await store.insert(region, in: $0) }
        return .json(.created, ["region": region.json(store)])
    }

    private func parentRegion(_ f: JSONFields, own: String?) async throws -> String? {
        guard let parent = try f.string("parent_region_id", maxLength: 255, nullable: true) else { return nil }
        if parent == own { throw APIError.badRequest("Invalid input for field 'region.parent_region_id': a region cannot be its own parent.") }
        guard try await store.read({ try await store.region(parent, in: $0) }) != nil else {
            throw APIError.notFound("Could not find region: \(parent).")
        }
        return parent
    }

    private func checkEndpoint(_ e: inout Endpoint, _ f: JSONFields) async throws {
        guard Endpoint.interfaces.contains(e.interface) else {
            throw APIError.badRequest("Invalid input for field 'endpoint.interface': expected public, internal or admin.")
        }
        guard e.url.hasPrefix("http://") || e.url.hasPrefix("https://") || e.url.contains("$(") || e.url.contains("%(") else {
            throw APIError.badRequest("Invalid input for field 'endpoint.url': expected an http or https URL.")
        }
        let legacyRegion = try f.string("region", maxLength: 255, nullable: true)
        let regionID = try f.string("region_id", maxLength: 255, nullable: true) ?? legacyRegion
        if f.has("region_id") || f.has("region") { e.regionID = regionID }
        // The legacy `region` attribute names a region Keystone creates on the fly.
        if let legacyRegion, !f.has("region_id"), try await store.read({ try await store.region(legacyRegion, in: $0) }) == nil {
            try await store.write(conflict: "Region \(legacyRegion) already exists.") {
                try await store.insert(Region(id: legacyRegion, description: "", parentRegionID: nil, extra: [:]), in: $0)
            }
        }
        let endpoint = e
        try await store.read { db in
            guard try await store.service(endpoint.serviceID, in: db) != nil else {
                throw APIError.badRequest("Invalid input for field 'endpoint.service_id': no service \(endpoint.serviceID).")
            }
            if let regionID = endpoint.regionID, try await store.region(regionID, in: db) == nil {
                throw APIError.badRequest("Invalid input for field 'endpoint.region_id': no region \(regionID).")
            }
        }
    }

    private func region(_ id: String) async throws -> Region {
        guard let r = try await store.read({ try await store.region(id, in: $0) }) else { throw APIError.notFound("Could not find region: \(id).") }
        return r
    }

    private func catalogService(_ id: String) async throws -> CatalogService {
        guard let s = try await store.read({ try await store.service(id, in: $0) }) else { throw APIError.notFound("Could not find service: \(id).") }
        return s
    }

    private func endpoint(_ id: String) async throws -> Endpoint {
        guard let e = try await store.read({ try await store.endpoint(id, in: $0) }) else { throw APIError.notFound("Could not find endpoint: \(id).") }
        return e
    }
}
