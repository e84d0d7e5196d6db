import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/v3/registered_limits`: the default limit of each resource of each service (unified limits).
struct RegisteredLimitRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let fields: Set<String> = ["service_id", "region_id", "resource_name", "default_limit", "description"]
    static let duplicate = "Conflict occurred attempting to store registered_limit - Duplicate entry."

    func register(_ r: PolicyRouter) {
        r.getAndHead("/v3/registered_limits", rule: "identity:list_registered_limits") { call in
            let q = call.queryItems
            let list = try await store.allRegisteredLimits().filter { l in
                (q["service_id"] == nil || l.serviceID == q["service_id"]) && (q["region_id"] == nil || l.regionID == q["region_id"])
                    && (q["resource_name"] == nil || l.resourceName == q["resource_name"])
            }
            return .json(.ok, ["registered_limits": .array(list.map { $0.json(store) }), "links": store.collectionLinks("registered_limits")])
        }
        r.post("/v3/registered_limits", rule: "identity:create_registered_limits") { call in
            let items = try LimitInput.items(try await call.body(), key: "registered_limits")
            let created = try await store.write(conflict: Self.duplicate) { db in
                var created: [RegisteredLimit] = []
                for f in items {
                    try LimitInput.onlyKnown(f, Self.fields)
                    let limit = RegisteredLimit(
                        id: Identifier.hex(), serviceID: try f.requiredString("service_id", maxLength: 64),
                        regionID: try f.string("region_id", minLength: 1, maxLength: 255, nullable: true),
                        resourceName: try LimitInput.resourceName(f, required: true)!,
                        defaultLimit: try f.require("default_limit", try LimitInput.amount(f, "default_limit")),
                        description: try f.string("description", maxLength: 255, nullable: true))
                    try await LimitInput.requireCatalog(f, serviceID: limit.serviceID, regionID: limit.regionID, store: store, in: db)
                    if try await store.registeredLimit(serviceID: limit.serviceID, regionID: limit.regionID, resourceName: limit.resourceName, in: db) != nil {
                        throw APIError.conflict(Self.duplicate)
                    }
                    try await store.insert(limit, in: db)
                    created.append(limit)
                }
                return created
            }
            return .json(.created, ["registered_limits": .array(created.map { $0.json(store) })])
        }
        r.getAndHead("/v3/registered_limits/:registered_limit_id", rule: "identity:get_registered_limit") { call in
            let id = try call.param("registered_limit_id")
            return .json(.ok, ["registered_limit": try await store.read { try await require(id, in: $0) }.json(store)])
        }
        r.patch("/v3/registered_limits/:registered_limit_id", rule: "identity:update_registered_limit") { call in
            let id = try call.param("registered_limit_id")
            let f = try JSONFields.body(try await call.body(), wrapper: "registered_limit")
            try LimitInput.onlyKnown(f, Self.fields)
            let updated = try await store.write(conflict: Self.duplicate) { db in
                var limit = try await require(id, in: db)
                // Keystone refuses any change to a registered limit that limits refer to.
                try await refuseIfReferenced(limit, in: db)
                if let serviceID = try f.string("service_id", minLength: 1, maxLength: 64) { limit.serviceID = serviceID }
                if f.has("region_id") { limit.regionID = try f.string("region_id", minLength: 1, maxLength: 255, nullable: true) }
                if let name = try LimitInput.resourceName(f, required: false) { limit.resourceName = name }
                if let amount = try LimitInput.amount(f, "default_limit") { limit.defaultLimit = amount }
                if f.has("description") { limit.description = try f.string("description", maxLength: 255, nullable: true) }
                try await LimitInput.requireCatalog(f, serviceID: limit.serviceID, regionID: limit.regionID, store: store, in: db)
                // As in Keystone, naming the key at all means it must differ from every registered limit's, this one's too.
                if f.has("service_id") || f.has("region_id") || f.has("resource_name"),
                   try await store.registeredLimit(serviceID: limit.serviceID, regionID: limit.regionID, resourceName: limit.resourceName, in: db) != nil {
                    throw APIError.conflict(Self.duplicate)
                }
                try await store.update(limit, in: db)
                return limit
            }
            return .json(.ok, ["registered_limit": updated.json(store)])
        }
        r.delete("/v3/registered_limits/:registered_limit_id", rule: "identity:delete_registered_limit") { call in
            let id = try call.param("registered_limit_id")
            try await store.transaction { db in
                let limit = try await require(id, in: db)
                try await refuseIfReferenced(limit, in: db)
                try await store.deleteRegisteredLimit(limit.id, in: db)
            }
            return .empty()
        }
    }

    private func require(_ id: String, in db: any SQLDatabase) async throws -> RegisteredLimit {
        guard let limit = try await store.registeredLimit(id, in: db) else {
            throw APIError.notFound("Could not find registered limit for \(id).")
        }
        return limit
    }

    private func refuseIfReferenced(_ limit: RegisteredLimit, in db: any SQLDatabase) async throws {
        if try await store.isReferenced(registeredLimitID: limit.id, in: db) {
            throw APIError.forbidden("Unable to update or delete registered limit \(limit.id) because there are project limits associated with it.")
        }
    }
}
