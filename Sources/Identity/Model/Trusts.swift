import Foundation
import MartletCore
import SQLKit

/// OS-TRUST: a trustor delegates some of its roles on a project to a trustee, who gets
/// trust-scoped tokens with them (acting as the trustor when `impersonation`).
struct Trust: Sendable {
    var id: String
    var trustorUserID: String
    var trusteeUserID: String
    var projectID: String?
    var impersonation: Bool
    var expiresAt: Double?
    /// Tokens that may still be issued through the trust; nil for no limit.
    var remainingUses: Int?
    /// The trust this one was made from by its trustee (redelegation), if any.
    var redelegatedTrustID: String?
    /// How many more times the trust may be redelegated.
    var redelegationCount: Int
    var roleIDs: [String]
    var extra: [String: JSON]

    static let known: Set<String> = [
        "id", "trustor_user_id", "trustee_user_id", "project_id", "impersonation", "expires_at", "remaining_uses",
        "redelegated_trust_id", "redelegation_count", "allow_redelegation", "roles", "roles_links", "links", "deleted_at",
    ]

    func isExpired(at now: Double) -> Bool { expiresAt.map { $0 <= now } ?? false }

    /// Keystone's trust body. `roles` (full role objects) on create and show, nil in lists, which leave them out.
    func json(_ store: IdentityStore, roles: [Role]?) -> JSON {
        var body: [String: JSON] = [
            "id": .string(id), "trustor_user_id": .string(trustorUserID), "trustee_user_id": .string(trusteeUserID),
            "project_id": JSON(projectID), "impersonation": .bool(impersonation),
            "expires_at": expiresAt.map { .string(Timestamp.microseconds(Date(timeIntervalSince1970: $0))) } ?? .null,
            "remaining_uses": remainingUses.map { JSON($0) } ?? .null, "deleted_at": .null,
            "redelegated_trust_id": JSON(redelegatedTrustID), "redelegation_count": JSON(redelegationCount),
            "links": store.link("OS-TRUST/trusts", id),
        ]
        if let roles {
            body["roles"] = .array(roles.map { $0.json(store) })
            body["roles_links"] = store.collectionLinks("OS-TRUST/trusts/\(id)/roles")
        }
        return JSON.object(extra).merging(body)
    }
}

extension Trust {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        trustorUserID = try row.string("trustor_user_id")
        trusteeUserID = try row.string("trustee_user_id")
        projectID = try row.optionalString("project_id")
        impersonation = try row.bool("impersonation")
        expiresAt = try row.optionalDouble("expires_at")
        remainingUses = try row.decode(column: "remaining_uses", as: Int?.self)
        redelegatedTrustID = try row.optionalString("redelegated_trust_id")
        redelegationCount = try row.decode(column: "redelegation_count", as: Int.self)
        roleIDs = (try? JSON.parse(Array(try row.string("roles").utf8)))?.array.compactMap(\.stringValue) ?? []
        extra = try row.extras()
    }
}

extension IdentityStore {
    private static let trustColumns = """
        id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses,
        redelegated_trust_id, redelegation_count, roles, extra
        """

    func trust(_ id: String, in db: any SQLDatabase) async throws -> Trust? {
        try await db.raw("SELECT \(unsafeRaw: Self.trustColumns) FROM identity_trusts WHERE id = \(bind: id)").first().map(Trust.init(row:))
    }

    /// A trust that can be shown or used: Keystone answers 404 for expired and used-up ones too.
    func requireTrust(_ id: String) async throws -> Trust {
        guard let trust = try await read({ try await trust(id, in: $0) }), !trust.isExpired(at: now()),
              (trust.remainingUses ?? 1) > 0 else {
            throw APIError.notFound("Could not find trust: \(id).")
        }
        return trust
    }

    /// Every trust, or those of one trustor or one trustee.
    func trusts(trustorUserID: String? = nil, trusteeUserID: String? = nil) async throws -> [Trust] {
        var query = SQLQueryString("SELECT \(unsafeRaw: Self.trustColumns) FROM identity_trusts WHERE 1 = 1")
        if let trustorUserID { query += " AND trustor_user_id = \(bind: trustorUserID)" as SQLQueryString }
        if let trusteeUserID { query += " AND trustee_user_id = \(bind: trusteeUserID)" as SQLQueryString }
        query += " ORDER BY created_at, id" as SQLQueryString
        return try await read { try await $0.raw(query).all().map(Trust.init(row:)) }
    }

    func insert(_ t: Trust, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_trusts (id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at,
              remaining_uses, redelegated_trust_id, redelegation_count, roles, extra, created_at)
            VALUES (\(bind: t.id), \(bind: t.trustorUserID), \(bind: t.trusteeUserID), \(bind: t.projectID), \(bind: t.impersonation),
                    \(bind: t.expiresAt), \(bind: t.remainingUses), \(bind: t.redelegatedTrustID), \(bind: t.redelegationCount),
                    \(bind: JSON(t.roleIDs).text), \(bind: t.extra.columnText), \(bind: now()))
            """).run()
    }

    /// Removes a trust and, as Keystone does, the trusts redelegated from it. Their tokens stop
    /// validating, since validation reads the trust.
    func deleteTrust(_ id: String, in db: any SQLDatabase) async throws {
        let children = try await db.raw("SELECT id FROM identity_trusts WHERE redelegated_trust_id = \(bind: id)").all()
            .map { try $0.string("id") }
        for child in children where child != id { try await deleteTrust(child, in: db) }
        try await db.raw("DELETE FROM identity_trusts WHERE id = \(bind: id)").run()
    }

    /// A deleted user's trusts go with it, whichever side of them it was on.
    func deleteTrusts(ofUser userID: String, in db: any SQLDatabase) async throws {
        let ids = try await db.raw("SELECT id FROM identity_trusts WHERE trustor_user_id = \(bind: userID) OR trustee_user_id = \(bind: userID)")
            .all().map { try $0.string("id") }
        for id in ids { try await deleteTrust(id, in: db) }
    }

    /// A deleted project's trusts go with it.
    func deleteTrusts(ofProject projectID: String, in db: any SQLDatabase) async throws {
        let ids = try await db.raw("SELECT id FROM identity_trusts WHERE project_id = \(bind: projectID)").all().map { try $0.string("id") }
        for id in ids { try await deleteTrust(id, in: db) }
    }

    /// Takes one use of a limited trust; false when none is left. One statement, so two concurrent
    /// issues never both take the last use.
    func consumeTrustUse(_ id: String, in db: any SQLDatabase) async throws -> Bool {
        let taken = try await db.raw("""
            UPDATE identity_trusts SET remaining_uses = remaining_uses - 1
            WHERE id = \(bind: id) AND remaining_uses > 0 RETURNING id
            """).first()
        if taken != nil { return true }
        // Not taken: fine for a trust without a limit, refused for one with none left (or gone).
        guard let trust = try await trust(id, in: db) else { return false }
        return trust.remainingUses == nil
    }
}
