import Foundation
import Hummingbird
import MartletCore

/// OS-TRUST: `/v3/OS-TRUST/trusts` and the roles a trust delegates.
struct TrustRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        r.getAndHead("/v3/OS-TRUST/trusts", rule: "identity:list_trusts", loadsTarget: true) { call in
            let trustor = call.query("trustor_user_id").flatMap { $0.isEmpty ? nil : $0 }
            let trustee = call.query("trustee_user_id").flatMap { $0.isEmpty ? nil : $0 }
            // The rule checks list_trusts_for_trustor or _for_trustee when filtered (the trustor first, as Keystone).
            if let trustor { try call.authorize(["trustor_user_id": trustor]) }
            else if let trustee { try call.authorize(["trustee_user_id": trustee]) }
            else { try call.authorize([:]) }
            try refuseApplicationCredential(call)
            let trusts = try await store.trusts(trustorUserID: trustor, trusteeUserID: trustor == nil ? trustee : nil)
            return .json(.ok, ["trusts": .array(trusts.map { $0.json(store, roles: nil) }), "links": store.collectionLinks("OS-TRUST/trusts")])
        }
        r.post("/v3/OS-TRUST/trusts", rule: "identity:create_trust", loadsTarget: true) { call in
            let new = try Self.newTrust(try await call.body())
            try call.authorize(["trustor_user_id": new.trustorUserID])
            try refuseApplicationCredential(call)
            let trust = try await store.createTrust(new, redelegating: try await sourceTrust(call))
            return .json(.created, ["trust": trust.json(store, roles: try await roles(of: trust))])
        }
        r.getAndHead("/v3/OS-TRUST/trusts/:trust_id", rule: "identity:get_trust", loadsTarget: true) { call in
            let trust = try await authorizedTrust(call)
            return .json(.ok, ["trust": trust.json(store, roles: try await roles(of: trust))])
        }
        r.delete("/v3/OS-TRUST/trusts/:trust_id", rule: "identity:delete_trust", loadsTarget: true) { call in
            let trust = try await authorizedTrust(call)
            try await store.transaction { try await store.deleteTrust(trust.id, in: $0) }
            return .empty()
        }
        r.getAndHead("/v3/OS-TRUST/trusts/:trust_id/roles", rule: "identity:list_roles_for_trust", loadsTarget: true) { call in
            let trust = try await authorizedTrust(call)
            return .json(.ok, ["roles": .array(try await roles(of: trust).map { $0.json(store) }),
                               "links": store.collectionLinks("OS-TRUST/trusts/\(trust.id)/roles")])
        }
        r.getAndHead("/v3/OS-TRUST/trusts/:trust_id/roles/:role_id", rule: "identity:get_role_for_trust", loadsTarget: true) { call in
            let trust = try await authorizedTrust(call)
            let roleID = try call.param("role_id")
            guard trust.roleIDs.contains(roleID) else { throw APIError.notFound("Could not find role: \(roleID).") }
            return .json(.ok, ["role": try await store.requireRole(roleID).json(store)])
        }
    }

    /// The trust named by the path, after the route's rule: as Keystone, a trust that is missing,
    /// expired or used up is a 404 before any policy check.
    private func authorizedTrust(_ call: APICall) async throws -> Trust {
        let trust = try await store.requireTrust(try call.param("trust_id"))
        try call.authorize(["trustor_user_id": trust.trustorUserID, "trustee_user_id": trust.trusteeUserID])
        try refuseApplicationCredential(call)
        return trust
    }

    /// Keystone keeps application credentials (single-project delegations) away from trusts.
    private func refuseApplicationCredential(_ call: APICall) throws {
        if call.auth.applicationCredentialID != nil {
            throw APIError.forbidden("You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing trusts.")
        }
    }

    /// The trust of the caller's token, when it is trust-scoped: a new trust made with it redelegates it.
    private func sourceTrust(_ call: APICall) async throws -> Trust? {
        guard let id = try await service.callerTrustID(call) else { return nil }
        return try await store.requireTrust(id)
    }

    /// The trust's roles in full; roles deleted since are left out.
    private func roles(of trust: Trust) async throws -> [Role] {
        try await store.read { db in
            try await trust.roleIDs.asyncMap { try await store.role($0, in: db) }.compactMap { $0 }
        }
    }

    /// `{"trust": …}` as Keystone's schema takes it: extra attributes are kept with the trust.
    static func newTrust(_ body: JSON) throws -> NewTrust {
        let f = try JSONFields.body(body, wrapper: "trust")
        let trustor = try f.requiredString("trustor_user_id", maxLength: 255)
        let trustee = try f.requiredString("trustee_user_id", maxLength: 255)
        guard let impersonation = try f.bool("impersonation") else {
            throw APIError.badRequest("Invalid input for field 'trust.impersonation': the field is required.")
        }
        let projectID = try f.string("project_id", maxLength: 64, nullable: true).flatMap { $0.isEmpty ? nil : $0 }
        let remainingUses = try nullableInt(f, "remaining_uses", minimum: 1)
        let redelegationCount = try nullableInt(f, "redelegation_count", minimum: 0)
        let allowRedelegation = f.members["allow_redelegation"] == .null ? false : (try f.bool("allow_redelegation") ?? false)
        var expiresAt: Double?
        if let text = try f.string("expires_at", nullable: true) {
            guard let date = Timestamp.parse(text) else {
                throw APIError.badRequest("Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
            }
            guard date > Date() else {
                throw APIError.badRequest("The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
            }
            expiresAt = date.timeIntervalSince1970
        }
        var roles: [NewTrust.RoleName] = []
        for (i, role) in (try f.objects("roles") ?? []).enumerated() {
            let invalid = APIError.badRequest("Invalid input for field 'trust.roles[\(i)]': expected exactly one of id or name.")
            guard role.members.count == 1 else { throw invalid }
            if let id = try role.string("id", minLength: 1, maxLength: 64) {
                guard id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                    throw APIError.badRequest("Invalid input for field 'trust.roles[\(i)].id': only letters, digits and '-' are allowed.")
                }
                roles.append(.id(id))
            } else if let name = try role.string("name", minLength: 1, maxLength: 255) {
                roles.append(.name(name))
            } else {
                throw invalid
            }
        }
        return NewTrust(trustorUserID: trustor, trusteeUserID: trustee, projectID: projectID, impersonation: impersonation,
                        expiresAt: expiresAt, remainingUses: remainingUses, allowRedelegation: allowRedelegation,
                        redelegationCount: redelegationCount, roles: roles, extra: f.extras(excluding: Trust.known))
    }

    private static func nullableInt(_ f: JSONFields, _ key: String, minimum: Int) throws -> Int? {
        guard f.members[key] != .null, let value = try f.int(key) else { return nil }
        guard value >= minimum else { throw APIError.badRequest("Invalid input for field 'trust.\(key)': \(value) is less than the minimum of \(minimum).") }
        return value
    }
}
