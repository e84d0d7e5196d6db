import Foundation
import MartletCore
import SQLKit

/// An application credential access rule: one service type, one method, one path pattern. A user's
/// rules are shared by its credentials (an identical rule is reused) and outlive them until deleted.
struct AccessRule: Sendable, Hashable {
    static let methods: Set<String> = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]

    var id: String
    var service: String
    var method: String
    var path: String

    /// The form stored on the credential's row and shown in tokens and credentials.
    var body: JSON {
        ["id": .string(id), "service": .string(service), "method": .string(method), "path": .string(path)]
    }

    func json(_ store: IdentityStore, userID: String) -> JSON {
        body.merging(["links": ["self": .string("\(store.linkBase)/users/\(userID)/access_rules/\(id)")]])
    }

    init(id: String, service: String, method: String, path: String) {
        self.id = id
        self.service = service
        self.method = method
        self.path = path
    }

    init?(body: JSON) {
        guard let id = body["id"]?.stringValue, let service = body["service"]?.stringValue,
              let method = body["method"]?.stringValue, let path = body["path"]?.stringValue else { return nil }
        self.init(id: id, service: service, method: method, path: path)
    }

    /// Stored text of a credential's rules; nil (no column value) for a credential without any.
    static func columnText(_ rules: [AccessRule]?) -> String? {
        guard let rules, !rules.isEmpty else { return nil }
        return JSON.array(rules.map(\.body)).text
    }

    static func parse(column text: String?) -> [AccessRule]? {
        guard let text, let parsed = try? JSON.parse(Array(text.utf8)) else { return nil }
        let rules = parsed.array.compactMap(AccessRule.init(body:))
        return rules.isEmpty ? nil : rules
    }
}

extension AccessRule {
    init(row: any SQLRow) throws {
        self.init(id: try row.string("id"), service: try row.string("service"), method: try row.string("method"), path: try row.string("path"))
    }
}

extension IdentityStore {
    func accessRules(userID: String) async throws -> [AccessRule] {
        try await read { db in
            try await db.raw("SELECT id, service, method, path FROM identity_access_rules WHERE user_id = \(bind: userID) ORDER BY id")
                .all().map(AccessRule.init(row:))
        }
    }

    /// A rule with the user it belongs to.
    func accessRule(_ id: String, in db: any SQLDatabase) async throws -> (rule: AccessRule, userID: String)? {
        guard let row = try await db.raw("SELECT id, user_id, service, method, path FROM identity_access_rules WHERE id = \(bind: id)").first() else {
            return nil
        }
        return (try AccessRule(row: row), try row.string("user_id"))
    }

    /// The user's rule identical to this one, if it has one.
    func accessRule(userID: String, service: String, method: String, path: String, in db: any SQLDatabase) async throws -> AccessRule? {
        try await db.raw("""
            SELECT id, service, method, path FROM identity_access_rules
            WHERE user_id = \(bind: userID) AND service = \(bind: service) AND method = \(bind: method) AND path = \(bind: path)
            """).first().map(AccessRule.init(row:))
    }

    func insert(_ rule: AccessRule, userID: String, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_access_rules (id, user_id, service, method, path)
            VALUES (\(bind: rule.id), \(bind: userID), \(bind: rule.service), \(bind: rule.method), \(bind: rule.path))
            """).run()
    }

    func attach(_ ruleID: String, toApplicationCredential credentialID: String, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_app_credential_access_rules (app_credential_id, access_rule_id) VALUES (\(bind: credentialID), \(bind: ruleID))
            """).run()
    }

    func isAccessRuleInUse(_ id: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT app_credential_id FROM identity_app_credential_access_rules WHERE access_rule_id = \(bind: id) LIMIT 1").first() != nil
    }

    func deleteAccessRule(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_access_rules WHERE id = \(bind: id)").run()
    }
}

/// An access rule as a create request names it: by the ID of one of the user's rules, or by its
/// service, method and path (an identical rule of the user's is then reused).
struct RequestedAccessRule: Sendable {
    var id: String?
    var service: String?
    var method: String?
    var path: String?
}

extension IdentityStore {
    /// The rules a new credential of `userID` gets for what was requested, creating those the user lacks.
    func resolve(_ requested: [RequestedAccessRule], userID: String, in db: any SQLDatabase) async throws -> [AccessRule] {
        var rules: [AccessRule] = []
        for (index, want) in requested.enumerated() {
            let field = "application_credential.access_rules[\(index)]"
            var rule: AccessRule?
            if let id = want.id, let found = try await accessRule(id, in: db) {
                guard found.userID == userID else { throw APIError.badRequest("Invalid input for field '\(field).id': no access rule \(id) of this user.") }
                rule = found.rule
            }
            if rule == nil {
                guard let service = want.service, let method = want.method, let path = want.path else {
                    throw APIError.badRequest("Invalid input for field '\(field)': a new access rule needs service, method and path.")
                }
                rule = try await accessRule(userID: userID, service: service, method: method, path: path, in: db)
                if rule == nil {
                    let made = AccessRule(id: want.id ?? Identifier.hex(), service: service, method: method, path: path)
                    try await insert(made, userID: userID, in: db)
                    rule = made
                }
            }
            if let rule, !rules.contains(rule) { rules.append(rule) }
        }
        return rules
    }
}
