import Foundation
import MartletCore
import SQLKit

/// A default limit on a resource of a service (in a region, or everywhere).
struct RegisteredLimit: Sendable {
    var id: String
    var serviceID: String
    var regionID: String?
    var resourceName: String
    var defaultLimit: Int
    var description: String?

    func json(_ store: IdentityStore) -> JSON {
        [
            "id": .string(id), "service_id": .string(serviceID), "region_id": JSON(regionID),
            "resource_name": .string(resourceName), "default_limit": JSON(defaultLimit),
            "description": JSON(description), "links": store.link("registered_limits", id),
        ]
    }
}

/// A project's or a domain's override of a registered limit; service, region and resource are the registered limit's.
struct Limit: Sendable {
    var id: String
    var registeredLimitID: String
    var projectID: String?
    var domainID: String?
    var resourceLimit: Int
    var description: String?
    var serviceID: String
    var regionID: String?
    var resourceName: String

    func json(_ store: IdentityStore) -> JSON {
        [
            "id": .string(id), "project_id": JSON(projectID), "domain_id": JSON(domainID),
            "service_id": .string(serviceID), "region_id": JSON(regionID), "resource_name": .string(resourceName),
            "resource_limit": JSON(resourceLimit), "description": JSON(description), "links": store.link("limits", id),
        ]
    }
}

extension RegisteredLimit {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        serviceID = try row.string("service_id")
        regionID = try row.optionalString("region_id")
        resourceName = try row.string("resource_name")
        defaultLimit = try row.decode(column: "default_limit", as: Int.self)
        description = try row.optionalString("description")
    }
}

extension Limit {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        registeredLimitID = try row.string("registered_limit_id")
        projectID = try row.optionalString("project_id")
        domainID = try row.optionalString("domain_id")
        resourceLimit = try row.decode(column: "resource_limit", as: Int.self)
        description = try row.optionalString("description")
        serviceID = try row.string("service_id")
        regionID = try row.optionalString("region_id")
        resourceName = try row.string("resource_name")
    }
}

extension IdentityStore {
    private static let registeredColumns = "id, service_id, region_id, resource_name, default_limit, description"
    /// A limit with the attributes it takes from its registered limit.
    private static let limitSelect = """
        SELECT l.id, l.registered_limit_id, l.project_id, l.domain_id, l.resource_limit, l.description,
          r.service_id, r.region_id, r.resource_name
        FROM identity_limits l JOIN identity_registered_limits r ON r.id = l.registered_limit_id
        """

    func registeredLimit(_ id: String, in db: any SQLDatabase) async throws -> RegisteredLimit? {
        try await db.raw("SELECT \(unsafeRaw: Self.registeredColumns) FROM identity_registered_limits WHERE id = \(bind: id)")
            .first().map(RegisteredLimit.init(row:))
    }

    func allRegisteredLimits() async throws -> [RegisteredLimit] {
        try await read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.registeredColumns) FROM identity_registered_limits ORDER BY id").all()
                .map(RegisteredLimit.init(row:))
        }
    }

    /// The registered limit for a service, region (nil: none) and resource, if there is one.
    func registeredLimit(serviceID: String, regionID: String?, resourceName: String, in db: any SQLDatabase) async throws -> RegisteredLimit? {
        try await db.raw("""
            SELECT \(unsafeRaw: Self.registeredColumns) FROM identity_registered_limits
            WHERE service_id = \(bind: serviceID) AND COALESCE(region_id, '') = \(bind: regionID ?? "") AND resource_name = \(bind: resourceName)
            """).first().map(RegisteredLimit.init(row:))
    }

    func isReferenced(registeredLimitID id: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT id FROM identity_limits WHERE registered_limit_id = \(bind: id) LIMIT 1").first() != nil
    }

    func insert(_ r: RegisteredLimit, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_registered_limits (id, service_id, region_id, resource_name, default_limit, description)
            VALUES (\(bind: r.id), \(bind: r.serviceID), \(bind: r.regionID), \(bind: r.resourceName), \(bind: r.defaultLimit), \(bind: r.description))
            """).run()
    }

    func update(_ r: RegisteredLimit, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_registered_limits SET service_id = \(bind: r.serviceID), region_id = \(bind: r.regionID),
              resource_name = \(bind: r.resourceName), default_limit = \(bind: r.defaultLimit), description = \(bind: r.description)
            WHERE id = \(bind: r.id)
            """).run()
    }

    func deleteRegisteredLimit(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_registered_limits WHERE id = \(bind: id)").run()
    }

    func limit(_ id: String, in db: any SQLDatabase) async throws -> Limit? {
        try await db.raw("\(unsafeRaw: Self.limitSelect) WHERE l.id = \(bind: id)").first().map(Limit.init(row:))
    }

    func allLimits() async throws -> [Limit] {
        try await read { db in try await db.raw("\(unsafeRaw: Self.limitSelect) ORDER BY l.id").all().map(Limit.init(row:)) }
    }

    /// Whether the project or domain already overrides this registered limit.
    func hasLimit(registeredLimitID: String, projectID: String?, domainID: String?, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            SELECT id FROM identity_limits WHERE registered_limit_id = \(bind: registeredLimitID)
              AND COALESCE(project_id, '') = \(bind: projectID ?? "") AND COALESCE(domain_id, '') = \(bind: domainID ?? "") LIMIT 1
            """).first() != nil
    }

    func insert(_ l: Limit, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_limits (id, registered_limit_id, project_id, domain_id, resource_limit, description)
            VALUES (\(bind: l.id), \(bind: l.registeredLimitID), \(bind: l.projectID), \(bind: l.domainID), \(bind: l.resourceLimit), \(bind: l.description))
            """).run()
    }

    func update(_ l: Limit, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_limits SET resource_limit = \(bind: l.resourceLimit), description = \(bind: l.description) WHERE id = \(bind: l.id)
            """).run()
    }

    func deleteLimit(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_limits WHERE id = \(bind: id)").run()
    }
}
