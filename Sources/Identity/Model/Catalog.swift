import Foundation
import MartletCore
import SQLKit
import Synchronization

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
    func catalog() async throws -> JSON { try await catalogSnapshot().json }

    func catalogSnapshot() async throws -> CatalogSnapshot {
        let generation = changes.current
        if let cached = catalogCache.value("catalog", generation: generation) { return cached }
        let catalog = CatalogSnapshot(try await read { db in try await self.catalog(in: db) })
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

/// The cached token catalog with, kept beside it, its serialized form as each project sees it:
/// every validation sends it, and the two go stale together.
final class CatalogSnapshot: Sendable {
    let json: JSON
    private let serializedByProject = Mutex<[String?: [UInt8]]>([:])

    init(_ json: JSON) { self.json = json }

    /// `Catalog.substituted(json, projectID:).serialized()`, worked out once per project.
    func serialized(forProject projectID: String?) -> [UInt8] {
        if let known = serializedByProject.withLock({ $0[projectID] }) { return known }
        let bytes = Catalog.substituted(json, projectID: projectID).serialized()
        serializedByProject.withLock { kept in
            if kept.count >= 1_000 { kept.removeAll(keepingCapacity: true) }
            kept[projectID] = bytes
        }
        return bytes
    }
}

enum Catalog {
    static let markers = ["$(project_id)s", "$(tenant_id)s", "%(project_id)s", "%(tenant_id)s"]
    private static let markerBytes = markers.map { Array($0.utf8) }

    /// The catalog as one caller sees it: `$(project_id)s` (and Keystone's other spellings) in
    /// endpoint URLs becomes the token's project; without one, those endpoints are left out.
    /// It runs on every token validation, so services without a marker are passed on untouched.
    static func substituted(_ catalog: JSON, projectID: String?) -> JSON {
        guard case .array(let services) = catalog else { return catalog }
        return .array(services.map { service in
            guard case .object(var fields) = service, case .array(let endpoints)? = fields["endpoints"],
                  endpoints.contains(where: { $0["url"]?.stringValue.map(hasMarker) == true }) else { return service }
            fields["endpoints"] = .array(endpoints.compactMap { endpoint in
                guard case .object(var e) = endpoint, let url = e["url"]?.stringValue, hasMarker(url) else { return endpoint }
                guard let projectID else { return nil }
                e["url"] = .string(replacingMarkers(in: url, with: projectID))
                return .object(e)
            })
            return .object(fields)
        })
    }

    /// Whether `url` holds a marker. ASCII text is scanned as bytes (Foundation's search cost a third
    /// of a validation's CPU); anything else goes through Foundation, as it always did.
    static func hasMarker(_ url: String) -> Bool {
        let ascii: Bool?? = url.utf8.withContiguousStorageIfAvailable { bytes -> Bool? in
            guard isASCII(bytes) else { return nil }
            // Every marker has its `(` second: most URLs have none and are done after one pass.
            guard bytes.contains(UInt8(ascii: "(")) else { return false }
            return markerBytes.contains { firstIndex(of: $0, in: bytes, from: 0) != nil }
        }
        if let known = ascii ?? nil { return known }
        return markers.contains(where: url.contains)
    }

    /// Each marker in turn replaced by `projectID` (the same passes Foundation's `replacingOccurrences` made).
    static func replacingMarkers(in url: String, with projectID: String) -> String {
        let fast: String?? = url.utf8.withContiguousStorageIfAvailable { bytes -> String? in
            let id = Array(projectID.utf8)
            guard isASCII(bytes), isASCII(id) else { return nil }
            var text = Array(bytes)
            for marker in markerBytes {
                var out: [UInt8] = []
                var found = false
                var start = 0
                text.withUnsafeBufferPointer { text in
                    while let at = firstIndex(of: marker, in: text, from: start) {
                        if !found { out.reserveCapacity(text.count + id.count); found = true }
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<at]))
                        out.append(contentsOf: id)
                        start = at + marker.count
                    }
                    if found { out.append(contentsOf: UnsafeBufferPointer(rebasing: text[start...])) }
                }
                if found { text = out }
            }
            return String(decoding: text, as: UTF8.self)
        }
        if let done = fast ?? nil { return done }
        var url = url
        for marker in markers { url = url.replacingOccurrences(of: marker, with: projectID) }
        return url
    }

    private static func isASCII(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.allSatisfy { $0 < 0x80 }
    }

    /// Where `needle` first occurs in `bytes` at or after `from`.
    private static func firstIndex(of needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard !needle.isEmpty, bytes.count - from >= needle.count else { return nil }
        let first = needle[0]
        var i = from
        while i <= bytes.count - needle.count {
            if bytes[i] == first {
                var j = 1
                while j < needle.count && bytes[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
