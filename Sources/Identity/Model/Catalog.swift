import Foundation
import MartletCore
import SQLKit

struct Region: Sendable {
    var id: String
    var description: String
    var parentRegionID: String?
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging([
            "id": .string(id), "description": .string(description), "parent_region_id": JSON(parentRegionID),
            "links": store.link("regions", id),
        ])
    }
}

extension Region {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        description = try row.string("description")
        parentRegionID = try row.optionalString("parent_region_id")
        extra = try row.extras()
    }
}

/// A catalog service; `name` and `description` live in `extra`, as in Keystone.
struct CatalogService: Sendable {
    var id: String
    var type: String
    var enabled: Bool
    var extra: [String: JSON]

    var name: String? { extra["name"]?.stringValue }

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging(["id": .string(id), "type": .string(type), "enabled": .bool(enabled), "links": store.link("services", id)])
    }
}

extension CatalogService {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        type = try row.string("type")
        enabled = try row.bool("enabled")
        extra = try row.extras()
    }
}

struct Endpoint: Sendable {
    static let interfaces: Set<String> = ["public", "internal", "admin"]

    var id: String
    var serviceID: String
    var interface: String
    var regionID: String?
    var url: String
    var enabled: Bool
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging([
            "id": .string(id), "service_id": .string(serviceID), "interface": .string(interface),
            "region_id": JSON(regionID), "region": JSON(regionID), "url": .string(url), "enabled": .bool(enabled),
            "links": store.link("endpoints", id),
        ])
    }
}

extension Endpoint {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        serviceID = try row.string("service_id")
        interface = try row.string("interface")
        regionID = try row.optionalString("region_id")
        url = try row.string("url")
        enabled = try row.bool("enabled")
        extra = try row.extras()
    }
}

extension IdentityStore {
    func region(_ id: String, in db: any SQLDatabase) async throws -> Region? {
        try await db.raw("SELECT id, description, parent_region_id, extra FROM identity_regions WHERE id = \(bind: id)").first().map(Region.init(row:))
    }

    func allRegions() async throws -> [Region] {
        try await read { try await $0.raw("SELECT id, description, parent_region_id, extra FROM identity_regions ORDER BY id").all().map(Region.init(row:)) }
    }

    func insert(_ r: Region, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_regions (id, description, parent_region_id, extra)
            VALUES (\(bind: r.id), \(bind: r.description), \(bind: r.parentRegionID), \(bind: r.extra.columnText))
            """).run()
    }

    func update(_ r: Region, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_regions SET description = \(bind: r.description), parent_region_id = \(bind: r.parentRegionID),
              extra = \(bind: r.extra.columnText) WHERE id = \(bind: r.id)
            """).run()
    }

    func hasChildRegions(_ id: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT id FROM identity_regions WHERE parent_region_id = \(bind: id) LIMIT 1").first() != nil
    }

    func deleteRegion(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_regions WHERE id = \(bind: id)").run()
    }

    /// Removes a service with its endpoints.
    func deleteService(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_endpoints WHERE service_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_services WHERE id = \(bind: id)").run()
    }

    func deleteEndpoint(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_endpoints WHERE id = \(bind: id)").run()
    }

    func service(_ id: String, in db: any SQLDatabase) async throws -> CatalogService? {
        try await db.raw("SELECT id, type, enabled, extra FROM identity_services WHERE id = \(bind: id)").first().map(CatalogService.init(row:))
    }

    func allServices() async throws -> [CatalogService] {
        try await read { try await $0.raw("SELECT id, type, enabled, extra FROM identity_services ORDER BY type").all().map(CatalogService.init(row:)) }
    }

    func insert(_ s: CatalogService, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO identity_services (id, type, enabled, extra) VALUES (\(bind: s.id), \(bind: s.type), \(bind: s.enabled), \(bind: s.extra.columnText))").run()
    }

    func update(_ s: CatalogService, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE identity_services SET type = \(bind: s.type), enabled = \(bind: s.enabled), extra = \(bind: s.extra.columnText) WHERE id = \(bind: s.id)").run()
    }

    func endpoint(_ id: String, in db: any SQLDatabase) async throws -> Endpoint? {
        try await db.raw("SELECT id, service_id, interface, region_id, url, enabled, extra FROM identity_endpoints WHERE id = \(bind: id)")
            .first().map(Endpoint.init(row:))
    }

    func allEndpoints(in db: any SQLDatabase) async throws -> [Endpoint] {
        try await db.raw("SELECT id, service_id, interface, region_id, url, enabled, extra FROM identity_endpoints ORDER BY id").all().map(Endpoint.init(row:))
    }

    func insert(_ e: Endpoint, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_endpoints (id, service_id, interface, region_id, url, enabled, extra)
            VALUES (\(bind: e.id), \(bind: e.serviceID), \(bind: e.interface), \(bind: e.regionID), \(bind: e.url), \(bind: e.enabled), \(bind: e.extra.columnText))
            """).run()
    }

    func update(_ e: Endpoint, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_endpoints SET service_id = \(bind: e.serviceID), interface = \(bind: e.interface), region_id = \(bind: e.regionID),
              url = \(bind: e.url), enabled = \(bind: e.enabled), extra = \(bind: e.extra.columnText) WHERE id = \(bind: e.id)
            """).run()
    }

    /// The token catalog, from the cache while no identity write has happened since it was read.
    func catalog() async throws -> JSON {
        let generation = changes.current
        if let cached = catalogCache.value("catalog", generation: generation) { return cached }
        let catalog: JSON = try await read { db in try await self.catalog(in: db) }
        catalogCache.store(catalog, for: "catalog", generation: generation)
        return catalog
    }

    /// The token catalog: enabled services with their enabled endpoints.
    func catalog(in db: any SQLDatabase) async throws -> JSON {
        let rows = try await db.raw("""
            SELECT s.id AS sid, s.type, s.extra AS sextra, e.id AS eid, e.interface, e.region_id, e.url
            FROM identity_services s JOIN identity_endpoints e ON e.service_id = s.id
            WHERE s.enabled = \(bind: true) AND e.enabled = \(bind: true) ORDER BY s.type, e.interface
            """).all()
        var order: [String] = []
        var services: [String: (type: String, name: String, endpoints: [JSON])] = [:]
        for row in rows {
            let sid = try row.string("sid")
            if services[sid] == nil {
                order.append(sid)
                services[sid] = (try row.string("type"), try row.extras("sextra")["name"]?.stringValue ?? "", [])
            }
            let region = try row.optionalString("region_id")
            services[sid]!.endpoints.append([
                "id": .string(try row.string("eid")), "interface": .string(try row.string("interface")),
                "region": JSON(region), "region_id": JSON(region), "url": .string(try row.string("url")),
            ])
        }
        return .array(order.map { sid in
            let s = services[sid]!
            return ["id": .string(sid), "type": .string(s.type), "name": .string(s.name), "endpoints": .array(s.endpoints)]
        })
    }
}

enum Catalog {
    /// The catalog as one caller sees it: `$(project_id)s` (and Keystone's other spellings) in
    /// endpoint URLs becomes the token's project; without one, those endpoints are left out.
    static func substituted(_ catalog: JSON, projectID: String?) -> JSON {
        guard case .array(let services) = catalog else { return catalog }
        let markers = ["$(project_id)s", "$(tenant_id)s", "%(project_id)s", "%(tenant_id)s"]
        return .array(services.map { service in
            guard case .object(var fields) = service, case .array(let endpoints)? = fields["endpoints"] else { return service }
            fields["endpoints"] = .array(endpoints.compactMap { endpoint in
                guard case .object(var e) = endpoint, var url = e["url"]?.stringValue, markers.contains(where: url.contains) else { return endpoint }
                guard let projectID else { return nil }
                for marker in markers { url = url.replacingOccurrences(of: marker, with: projectID) }
                e["url"] = .string(url)
                return .object(e)
            })
            return .object(fields)
        })
    }
}
