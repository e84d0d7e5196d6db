import Foundation
import MartletCore
import SQLKit

/// OS-EP-FILTER: which endpoints a project's catalog shows. A project associated with endpoints,
/// directly or through endpoint groups (whose filters pick endpoints by service, region and
/// interface), sees only those; a project with no association sees the whole catalog.
struct EndpointFilter: Sendable {
    static let filterKeys: Set<String> = ["service_id", "region_id", "interface"]

    var direct: [String: Set<String>] = [:]
    var groupsOfProject: [String: [String]] = [:]
    var groupFilters: [String: [String: JSON]] = [:]
    var endpoints: [Endpoint] = []

    /// The endpoints associated with the project, directly or through its groups (empty: no filtering).
    func endpointIDs(for projectID: String) -> Set<String> {
        var ids = direct[projectID] ?? []
        for group in groupsOfProject[projectID] ?? [] {
            guard let filters = groupFilters[group] else { continue }
            ids.formUnion(Self.matching(filters, endpoints).map(\.id))
        }
        return ids
    }

    /// The endpoints whose attributes equal every filter of an endpoint group.
    static func matching(_ filters: [String: JSON], _ endpoints: [Endpoint]) -> [Endpoint] {
        endpoints.filter { e in
            filters.allSatisfy { key, value in
                let attribute: String?
                switch key {
                case "service_id": attribute = e.serviceID
                case "region_id": attribute = e.regionID
                case "interface": attribute = e.interface
                default: return false
                }
                return value == JSON(attribute)
            }
        }
    }
}

extension IdentityStore {
    /// The filter as of now, from the cache while no identity write has happened since it was read.
    func endpointFilter() async throws -> EndpointFilter {
        let generation = changes.current
        if let cached = endpointFilterCache.value("filter", generation: generation) { return cached }
        let filter = try await read { db in
            var filter = EndpointFilter()
            for row in try await db.raw("SELECT project_id, endpoint_id FROM identity_project_endpoints").all() {
                filter.direct[try row.string("project_id"), default: []].insert(try row.string("endpoint_id"))
            }
            for row in try await db.raw("SELECT endpoint_group_id, project_id FROM identity_project_endpoint_groups").all() {
                filter.groupsOfProject[try row.string("project_id"), default: []].append(try row.string("endpoint_group_id"))
            }
            // Groups need the endpoints to match against; with no group in use there is nothing more to read.
            if !filter.groupsOfProject.isEmpty {
                let groups = try await db.raw("SELECT id, body FROM identity_documents WHERE kind = \(bind: DocumentKind.endpointGroup.rawValue)").all()
                for row in groups {
                    filter.groupFilters[try row.string("id")] = try row.extras("body")["filters"]?.objectValue ?? [:]
                }
                filter.endpoints = try await allEndpoints(in: db)
            }
            return filter
        }
        endpointFilterCache.store(filter, for: "filter", generation: generation)
        return filter
    }

    /// `Catalog.substituted(catalog(forProject:), projectID:)` serialized, from the cached catalog's
    /// own copy unless the project's endpoints are filtered.
    func serializedCatalog(forProject projectID: String?) async throws -> [UInt8] {
        let snapshot = try await catalogSnapshot()
        if let projectID, !(try await endpointFilter().endpointIDs(for: projectID)).isEmpty {
            return Catalog.substituted(try await catalog(forProject: projectID), projectID: projectID).serialized()
        }
        return snapshot.serialized(forProject: projectID)
    }

    /// The token catalog as a project sees it: only its associated endpoints when it has any.
    func catalog(forProject projectID: String?) async throws -> JSON {
        let catalog = try await catalog()
        guard let projectID else { return catalog }
        let allowed = try await endpointFilter().endpointIDs(for: projectID)
        guard !allowed.isEmpty else { return catalog }
        // Services left without endpoints drop out, as in Keystone.
        return .array(catalog.array.compactMap { service in
            let endpoints = service["endpoints"]?.array.filter { $0["id"]?.stringValue.map(allowed.contains) == true } ?? []
            return endpoints.isEmpty ? nil : service.merging(["endpoints": .array(endpoints)])
        })
    }

    // MARK: Project ↔ endpoint

    func addEndpoint(_ endpointID: String, toProject projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO identity_project_endpoints (project_id, endpoint_id) VALUES (\(bind: projectID), \(bind: endpointID))").run()
    }

    func isEndpoint(_ endpointID: String, inProject projectID: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT endpoint_id FROM identity_project_endpoints WHERE project_id = \(bind: projectID) AND endpoint_id = \(bind: endpointID)")
            .first() != nil
    }

    func removeEndpoint(_ endpointID: String, fromProject projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_project_endpoints WHERE project_id = \(bind: projectID) AND endpoint_id = \(bind: endpointID)").run()
    }

    func projectIDs(ofEndpoint endpointID: String, in db: any SQLDatabase) async throws -> [String] {
        try await db.raw("SELECT project_id FROM identity_project_endpoints WHERE endpoint_id = \(bind: endpointID) ORDER BY project_id")
            .all().map { try $0.string("project_id") }
    }

    // MARK: Project ↔ endpoint group

    func addEndpointGroup(_ groupID: String, toProject projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO identity_project_endpoint_groups (endpoint_group_id, project_id) VALUES (\(bind: groupID), \(bind: projectID))").run()
    }

    func isEndpointGroup(_ groupID: String, inProject projectID: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            SELECT project_id FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: groupID) AND project_id = \(bind: projectID)
            """).first() != nil
    }

    func removeEndpointGroup(_ groupID: String, fromProject projectID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: groupID) AND project_id = \(bind: projectID)").run()
    }

    func projectIDs(ofEndpointGroup groupID: String, in db: any SQLDatabase) async throws -> [String] {
        try await db.raw("SELECT project_id FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: groupID) ORDER BY project_id")
            .all().map { try $0.string("project_id") }
    }

    func endpointGroupIDs(ofProject projectID: String, in db: any SQLDatabase) async throws -> [String] {
        try await db.raw("SELECT endpoint_group_id FROM identity_project_endpoint_groups WHERE project_id = \(bind: projectID) ORDER BY endpoint_group_id")
            .all().map { try $0.string("endpoint_group_id") }
    }

    /// Removes an endpoint group with its project associations.
    func deleteEndpointGroup(_ id: String) async throws {
        try await transaction { db in
            try await db.raw("DELETE FROM identity_project_endpoint_groups WHERE endpoint_group_id = \(bind: id)").run()
            try await db.raw("DELETE FROM identity_documents WHERE kind = \(bind: DocumentKind.endpointGroup.rawValue) AND id = \(bind: id)").run()
        }
    }
}
