import Foundation
import MartletCore
import SQLKit

/// A trust as a request asks for it, before Keystone's checks.
struct NewTrust: Sendable {
    enum RoleName: Sendable { case id(String), name(String) }

    var trustorUserID: String
    var trusteeUserID: String
    var projectID: String?
    var impersonation: Bool
    var expiresAt: Double?
    var remainingUses: Int?
    var allowRedelegation: Bool
    var redelegationCount: Int?
    var roles: [RoleName]
    var extra: [String: JSON]
}

extension IdentityStore {
    /// Keystone's `[trust] max_redelegation_count` default.
    static let maxRedelegationCount = 3

    /// Checks a new trust as Keystone's trust API does, in its order, and stores it. `source` is the
    /// trust of the caller's token when the caller redelegates one.
    func createTrust(_ new: NewTrust, redelegating source: Trust?) async throws -> Trust {
        if new.projectID != nil && new.roles.isEmpty {
            throw APIError.forbidden("You are not authorized to perform the requested action: At least one role should be specified.")
        }
        let roleIDs = try await read { db -> [String] in
            guard try await self.user(new.trusteeUserID, in: db) != nil else { throw APIError.notFound("Could not find user: \(new.trusteeUserID).") }
            var ids: [String] = []
            for role in new.roles {
                switch role {
                case .id(let id): ids.append(id)
                case .name(let name):
                    guard let found = try await self.role(named: name, in: db) else { throw APIError.notFound("Role \(name) is not defined") }
                    ids.append(found.id)
                }
            }
            // The trustor must hold each delegated role on the project (domain-specific ones too).
            var held: Set<String> = []
            if let projectID = new.projectID {
                guard let project = try await self.project(projectID, in: db), !project.isDomain else {
                    throw APIError.notFound("Could not find project: \(projectID).")
                }
                held = Set(try await heldRoles(userID: new.trustorUserID, targetType: .project, targetID: project.id, in: db).map(\.role.id))
            }
            if let missing = ids.first(where: { !held.contains($0) }) { throw APIError.notFound("Could not find role: \(missing).") }
            var seen = Set<String>()
            return ids.filter { seen.insert($0).inserted }
        }
        var trust = Trust(id: Identifier.hex(), trustorUserID: new.trustorUserID, trusteeUserID: new.trusteeUserID,
                          projectID: new.projectID, impersonation: new.impersonation, expiresAt: new.expiresAt,
                          remainingUses: new.remainingUses, redelegatedTrustID: nil, redelegationCount: 0,
                          roleIDs: roleIDs, extra: new.extra)
        let redelegatable = new.allowRedelegation && new.redelegationCount != 0
        if redelegatable {
            if let count = new.redelegationCount, count > Self.maxRedelegationCount {
                throw APIError.forbidden("Requested redelegation depth of \(count) is greater than allowed \(Self.maxRedelegationCount)")
            }
            if new.remainingUses != nil { throw APIError.badRequest("remaining_uses must not be set if redelegation is allowed") }
            trust.redelegationCount = new.redelegationCount ?? Self.maxRedelegationCount
        }
        if let source {
            trust.redelegatedTrustID = source.id
            let remaining = source.redelegationCount - 1
            if redelegatable, let count = new.redelegationCount, count != remaining {
                throw APIError.forbidden("Modifying \"redelegation_count\" upon redelegation is forbidden. Omitting this parameter is advised.")
            }
            if redelegatable && new.redelegationCount == nil { trust.redelegationCount = remaining }
            try await checkRedelegation(&trust, from: source)
        }
        return try await write(conflict: "Conflict occurred attempting to store trust - Duplicate entry.") { db in
            try await insert(trust, in: db)
            return trust
        }
    }

    /// A redelegated trust gives no more than each trust of its chain: depth left, no use limit,
    /// no later expiry (it takes theirs when it names none), a subset of their roles, no impersonation
    /// they do not allow.
    private func checkRedelegation(_ trust: inout Trust, from source: Trust) async throws {
        var next: Trust? = source
        var seen = Set<String>()
        while let parent = next, seen.insert(parent.id).inserted {
            guard parent.redelegationCount > 0 && parent.redelegationCount <= Self.maxRedelegationCount else {
                throw APIError.forbidden("Remaining redelegation depth of \(parent.redelegationCount) out of allowed range of [0..\(Self.maxRedelegationCount)]")
            }
            if let uses = trust.remainingUses {
                throw APIError.forbidden("Field \"remaining_uses\" is set to \(uses) while it must not be set in order to redelegate a trust")
            }
            if let expiresAt = trust.expiresAt {
                if let limit = parent.expiresAt, limit < expiresAt {
                    throw APIError.forbidden("Requested expiration time is more than redelegated trust can provide")
                }
            } else {
                trust.expiresAt = parent.expiresAt
            }
            guard Set(trust.roleIDs).isSubset(of: parent.roleIDs) else {
                throw APIError.forbidden("Some of requested roles are not in redelegated trust")
            }
            if trust.impersonation && !parent.impersonation {
                throw APIError.forbidden("Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: \(parent.id)")
            }
            next = try await parent.redelegatedTrustID.asyncFlatMap { id in try await read { try await self.trust(id, in: $0) } }
        }
    }
}
