import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/v3/limits`: projects' and domains' overrides of registered limits, and the enforcement model.
struct LimitRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let createFields: Set<String> = ["project_id", "domain_id", "service_id", "region_id", "resource_name", "resource_limit", "description"]
    static let duplicate = "Conflict occurred attempting to store limit - Duplicate entry."

    func register(_ r: PolicyRouter) {
        r.getAndHead("/v3/limits/model", rule: "identity:get_limit_model") { _ in
            .json(.ok, ["model": [
                "name": "flat",
                "description": "Limit enforcement and validation does not take project hierarchy into consideration.",
            ]])
        }
        r.getAndHead("/v3/limits", rule: "identity:list_limits") { call in
            let q = call.queryItems
            let matching = try await store.allLimits().filter { l in
                (q["service_id"] == nil || l.serviceID == q["service_id"]) && (q["region_id"] == nil || l.regionID == q["region_id"])
                    && (q["resource_name"] == nil || l.resourceName == q["resource_name"])
                    && (q["project_id"] == nil || l.projectID == q["project_id"]) && (q["domain_id"] == nil || l.domainID == q["domain_id"])
            }
            let visible = try await visibleTo(call.auth, matching)
            return .json(.ok, ["limits": .array(visible.map { $0.json(store) }), "links": store.collectionLinks("limits")])
        }
        r.post("/v3/limits", rule: "identity:create_limits") { call in
            let items = try LimitInput.items(try await call.body(), key: "limits")
            let created = try await store.write(conflict: Self.duplicate) { db in
                var created: [Limit] = []
                for f in items { created.append(try await create(f, in: db)) }
                return created
            }
            return .json(.created, ["limits": .array(created.map { $0.json(store) })])
        }
        r.getAndHead("/v3/limits/:limit_id", rule: "identity:get_limit", loadsTarget: true) { call in
            let id = try call.param("limit_id")
            let (limit, domainID) = try await store.read { db -> (Limit, String?) in
                let limit = try await require(id, in: db)
                // A domain reader sees the limits of its projects too.
                if let projectID = limit.projectID { return (limit, try await store.project(projectID, in: db)?.domainID) }
                return (limit, limit.domainID)
            }
            try call.authorize(["project_id": limit.projectID, "domain_id": domainID].compactMapValues { $0 })
            return .json(.ok, ["limit": limit.json(store)])
        }
        r.patch("/v3/limits/:limit_id", rule: "identity:update_limit") { call in
            let id = try call.param("limit_id")
            let f = try JSONFields.body(try await call.body(), wrapper: "limit")
            try LimitInput.onlyKnown(f, ["resource_limit", "description"])
            let updated = try await store.transaction { db in
                var limit = try await require(id, in: db)
                if let amount = try LimitInput.amount(f, "resource_limit") { limit.resourceLimit = amount }
                if f.has("description") { limit.description = try f.string("description", maxLength: 255, nullable: true) }
                try await store.update(limit, in: db)
                return limit
            }
            return .json(.ok, ["limit": updated.json(store)])
        }
        r.delete("/v3/limits/:limit_id", rule: "identity:delete_limit") { call in
            let id = try call.param("limit_id")
            try await store.transaction { db in
                let limit = try await require(id, in: db)
                try await store.deleteLimit(limit.id, in: db)
            }
            return .empty()
        }
    }

    /// One item of a create: it names a project or a domain, and a registered limit by service, region and resource.
    private func create(_ f: JSONFields, in db: any SQLDatabase) async throws -> Limit {
        try LimitInput.onlyKnown(f, Self.createFields)
        let serviceID = try f.requiredString("service_id", maxLength: 64)
        let regionID = try f.string("region_id", minLength: 1, maxLength: 255, nullable: true)
        let resourceName = try LimitInput.resourceName(f, required: true)!
        let amount = try f.require("resource_limit", try LimitInput.amount(f, "resource_limit"))
        let description = try f.string("description", maxLength: 255, nullable: true)
        var projectID = try f.string("project_id", minLength: 1, maxLength: 64, nullable: true)
        var domainID = try f.string("domain_id", minLength: 1, maxLength: 64, nullable: true)
        guard (projectID == nil) != (domainID == nil) else {
            throw APIError.badRequest("Invalid input for field '\(f.path)': exactly one of project_id and domain_id is required.")
        }
        try await LimitInput.requireCatalog(f, serviceID: serviceID, regionID: regionID, store: store, in: db)
        if let id = projectID {
            guard let project = try await store.project(id, in: db) else {
                throw APIError.badRequest("Invalid input for field '\(f.path).project_id': no project \(id).")
            }
            // Keystone takes a domain named as a project for a domain limit.
            if project.isDomain { (projectID, domainID) = (nil, id) }
        } else if let id = domainID {
            guard let domain = try await store.project(id, in: db), domain.isDomain else {
                throw APIError.badRequest("Invalid input for field '\(f.path).domain_id': no domain \(id).")
            }
        }
        guard let registered = try await store.registeredLimit(serviceID: serviceID, regionID: regionID, resourceName: resourceName, in: db) else {
            throw APIError.forbidden("Unable to create a limit that has no corresponding registered limit.")
        }
        if try await store.hasLimit(registeredLimitID: registered.id, projectID: projectID, domainID: domainID, in: db) {
            throw APIError.conflict(Self.duplicate)
        }
        let limit = Limit(id: Identifier.hex(), registeredLimitID: registered.id, projectID: projectID, domainID: domainID,
                          resourceLimit: amount, description: description, serviceID: serviceID, regionID: regionID,
                          resourceName: resourceName)
        try await store.insert(limit, in: db)
        return limit
    }

    private func require(_ id: String, in db: any SQLDatabase) async throws -> Limit {
        guard let limit = try await store.limit(id, in: db) else { throw APIError.notFound("Could not find limit for \(id).") }
        return limit
    }

    /// Everyone may list limits, but sees only its own scope's (Keystone's rule): the system, admins
    /// and services see all; a domain sees its own and its projects'; a project its own.
    private func visibleTo(_ auth: AuthContext, _ limits: [Limit]) async throws -> [Limit] {
        if auth.isSystemScoped || auth.hasRole("admin") || auth.hasRole("service") { return limits }
        switch auth.scope {
        case .domain(let id, _):
            let projects = Set(try await store.allProjects().filter { $0.domainID == id && !$0.isDomain }.map(\.id))
            return limits.filter { $0.domainID == id || $0.projectID.map(projects.contains) == true }
        case .project(let id, _, _, _):
            return limits.filter { $0.projectID == id }
        default:
            return []
        }
    }
}
