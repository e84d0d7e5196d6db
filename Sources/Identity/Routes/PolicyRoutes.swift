import Foundation
import Hummingbird
import MartletCore

/// `/v3/policies`: opaque policy blobs, stored and served back.
struct PolicyRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/policies", rule: "identity:list_policies") { call in
            let type = call.query("type")
            let list = try await store.allPolicyBlobs().filter { type == nil || $0.type == type }
            return .json(.ok, ["policies": .array(list.map { $0.json(store) }), "links": store.collectionLinks("policies")])
        }
        r.post("/v3/policies", rule: "identity:create_policy") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "policy")
            let p = PolicyBlob(id: Identifier.hex(), type: try f.requiredString("type", maxLength: 255), blob: try f.requiredString("blob", minLength: 0, maxLength: 65536),
                               extra: f.extras(excluding: ["id", "type", "blob", "links"]))
            try await store.transaction { try await store.upsert(p, in: $0, new: true) }
            return .json(.created, ["policy": p.json(store)])
        }
        r.get("/v3/policies/:policy_id", rule: "identity:get_policy") { call in
            .json(.ok, ["policy": try await policy(call).json(store)])
        }
        r.patch("/v3/policies/:policy_id", rule: "identity:update_policy") { call in
            var p = try await policy(call)
            let f = try JSONFields.body(try await call.body(), wrapper: "policy")
            if let type = try f.string("type", minLength: 1, maxLength: 255) { p.type = type }
            if let blob = try f.string("blob", maxLength: 65536) { p.blob = blob }
            for (key, value) in f.extras(excluding: ["id", "type", "blob", "links"]) { p.extra[key] = value }
            let updated = p
            try await store.transaction { try await store.upsert(updated, in: $0, new: false) }
            return .json(.ok, ["policy": updated.json(store)])
        }
        r.delete("/v3/policies/:policy_id", rule: "identity:delete_policy") { call in
            let p = try await policy(call)
            try await store.transaction { try await store.deletePolicyBlob(p.id, in: $0) }
            return .empty()
        }
    }

    private func policy(_ call: APICall) async throws -> PolicyBlob {
        let id = try call.param("policy_id")
        guard let p = try await store.read({ try await store.policyBlob(id, in: $0) }) else { throw APIError.notFound("Could not find policy: \(id).") }
        return p
    }
}
