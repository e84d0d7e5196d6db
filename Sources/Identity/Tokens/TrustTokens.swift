import Foundation
import MartletCore
import SQLKit

/// The trust behind a trust-scoped token, with both of its users.
struct TrustToken: Sendable {
    var trust: Trust
    var trustor: User
    var trustorDomain: Project
    var trustee: User

    /// `OS-TRUST:trust` in the token body.
    var json: JSON {
        ["id": .string(trust.id), "trustor_user": ["id": .string(trustor.id)], "trustee_user": ["id": .string(trustee.id)],
         "impersonation": .bool(trust.impersonation)]
    }
}

extension TokenProvider {
    /// What a trust-scoped token delegates now, or why it may not be held, as Keystone checks it on
    /// issue and on every validation: the trust (and each one it was redelegated from) still stands,
    /// the token's user is its trustee, the trustor is enabled and not revoked since, and still holds
    /// every role the trust delegates (and those they imply). The token carries the global ones.
    /// Only trust-scoped tokens come here, so other tokens read nothing more.
    func resolveTrust(_ id: String, payload p: TokenPayload, trustee: User,
                      in db: any SQLDatabase) async throws -> Result<(TrustToken, [AuthContext.Role]), APIError> {
        let now = Date().timeIntervalSince1970
        guard let trust = try await store.trust(id, in: db), !trust.isExpired(at: now), trust.projectID == p.projectID else {
            return .failure(.unauthorized("Could not find trust: \(id)."))
        }
        guard trust.trusteeUserID == trustee.id else { return .failure(.forbidden("User is not a trustee.")) }
        var parentID = trust.redelegatedTrustID
        var seen: Set<String> = [trust.id]
        while let next = parentID, seen.insert(next).inserted {
            guard let parent = try await store.trust(next, in: db), !parent.isExpired(at: now),
                  let agent = try await store.user(parent.trusteeUserID, in: db), agent.enabled else {
                return .failure(.forbidden("One of the trust agents is disabled or deleted"))
            }
            parentID = parent.redelegatedTrustID
        }
        guard let trustor = try await store.user(trust.trustorUserID, in: db), trustor.enabled else {
            return .failure(.forbidden("Trustor is disabled."))
        }
        guard let trustorDomain = try await store.project(trustor.domainID, in: db), trustorDomain.enabled else {
            return .failure(.unauthorized("Trustor domain is disabled."))
        }
        // A revocation of the trustor's tokens (a new password, say) reaches tokens of its trusts too.
        if try await store.isRevoked(userID: trustor.id, issuedAt: p.issuedAt, in: db) {
            return .failure(.unauthorized("The trustor's tokens were revoked."))
        }
        var delegated: [AuthContext.Role] = []
        if let projectID = trust.projectID {
            let held = try await store.heldRoles(userID: trustor.id, targetType: .project, targetID: projectID, in: db)
            let heldIDs = Set(held.map(\.role.id))
            let rules = try await store.inferenceRules(in: db)
            var wanted = Set(trust.roleIDs)
            var frontier = trust.roleIDs
            while let next = frontier.popLast() {
                for rule in rules where rule.prior == next && wanted.insert(rule.implied).inserted { frontier.append(rule.implied) }
            }
            guard wanted.isSubset(of: heldIDs) else { return .failure(.forbidden("Trustee has no delegated roles.")) }
            delegated = held.filter { $0.global && wanted.contains($0.role.id) }.map(\.role)
        }
        return .success((TrustToken(trust: trust, trustor: trustor, trustorDomain: trustorDomain, trustee: trustee), delegated))
    }
}
