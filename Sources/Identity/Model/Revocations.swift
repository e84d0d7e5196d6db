import Foundation
import MartletCore
import SQLKit

/// Revocation events: a token issued at or before `issued_before` that matches an event is invalid.
/// Tokens themselves are never stored.
extension IdentityStore {
    func revoke(auditID: String, in db: any SQLDatabase) async throws {
        try await insertRevocation(auditID: auditID, userID: nil, projectID: nil, in: db)
    }

    func revoke(userID: String, in db: any SQLDatabase) async throws {
        try await insertRevocation(auditID: nil, userID: userID, projectID: nil, in: db)
    }

    func revoke(projectID: String, in db: any SQLDatabase) async throws {
        try await insertRevocation(auditID: nil, userID: nil, projectID: projectID, in: db)
    }

    private func insertRevocation(auditID: String?, userID: String?, projectID: String?, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_revocations (id, audit_id, user_id, project_id, issued_before, created_at)
            VALUES (\(bind: Identifier.hex()), \(bind: auditID), \(bind: userID), \(bind: projectID), \(bind: now()), \(bind: now()))
            """).run()
    }

    func isRevoked(_ payload: TokenPayload, in db: any SQLDatabase) async throws -> Bool {
        var query = SQLQueryString("SELECT id FROM identity_revocations WHERE issued_before >= \(bind: payload.issuedAt) AND (user_id = \(bind: payload.userID)")
        if let projectID = payload.projectID { query += " OR project_id = \(bind: projectID)" as SQLQueryString }
        for auditID in payload.auditIDs { query += " OR audit_id = \(bind: auditID)" as SQLQueryString }
        query += ") LIMIT 1" as SQLQueryString
        return try await db.raw(query).first() != nil
    }

    /// Whether every token of the user issued by then was revoked (read for trustors of trust-scoped tokens).
    func isRevoked(userID: String, issuedAt: Double, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT id FROM identity_revocations WHERE issued_before >= \(bind: issuedAt) AND user_id = \(bind: userID) LIMIT 1")
            .first() != nil
    }

    /// Events older than the longest token lifetime can match nothing any more.
    func pruneRevocations(olderThan seconds: Double) async throws {
        let cutoff = now() - seconds
        try await transaction { db in
            try await db.raw("DELETE FROM identity_revocations WHERE created_at < \(bind: cutoff)").run()
        }
    }
}
