import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/v3/users/{user_id}/access_rules`: the access rules a user's application credentials use.
struct AccessRuleRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        let base = "/v3/users/:user_id/access_rules"
        r.getAndHead(base, rule: "identity:list_access_rules") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            let user = try await store.requireUser(try call.param("user_id"))
            let q = call.queryItems
            let rules = try await store.accessRules(userID: user.id).filter { rule in
                (q["service"] == nil || rule.service == q["service"]) && (q["method"] == nil || rule.method == q["method"])
                    && (q["path"] == nil || rule.path == q["path"])
            }
            return .json(.ok, ["access_rules": .array(rules.map { $0.json(store, userID: user.id) }),
                               "links": store.collectionLinks("users/\(user.id)/access_rules")])
        }
        r.getAndHead("\(base)/:access_rule_id", rule: "identity:get_access_rule") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            let (userID, id) = (try call.param("user_id"), try call.param("access_rule_id"))
            let rule = try await store.read { try await owned(id, userID: userID, in: $0) }
            return .json(.ok, ["access_rule": rule.json(store, userID: userID)])
        }
        r.delete("\(base)/:access_rule_id", rule: "identity:delete_access_rule") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            let (userID, id) = (try call.param("user_id"), try call.param("access_rule_id"))
            try await store.transaction { db in
                let rule = try await owned(id, userID: userID, in: db)
                guard try await !store.isAccessRuleInUse(rule.id, in: db) else {
                    throw APIError.forbidden("May not delete access rule in use: an application credential still uses it.")
                }
                try await store.deleteAccessRule(rule.id, in: db)
            }
            return .empty()
        }
    }

    private func owned(_ id: String, userID: String, in db: any SQLDatabase) async throws -> AccessRule {
        guard let found = try await store.accessRule(id, in: db), found.userID == userID else {
            throw APIError.notFound("Could not find Access Rule: \(id).")
        }
        return found.rule
    }

    /// The `access_rules` of an application credential create request (Keystone's schema for them).
    static func requested(_ f: JSONFields) throws -> [RequestedAccessRule]? {
        guard let items = try f.objects("access_rules"), !items.isEmpty else { return nil }
        return try items.map { item in
            let rule = RequestedAccessRule(
                id: try idString(item, "id"), service: try idString(item, "service"),
                method: try item.string("method"), path: try item.string("path", maxLength: 225))
            if let method = rule.method, !AccessRule.methods.contains(method) {
                throw APIError.badRequest("Invalid input for field '\(item.path).method': expected one of DELETE, GET, HEAD, PATCH, POST, PUT.")
            }
            if let path = rule.path, !path.hasPrefix("/") {
                throw APIError.badRequest("Invalid input for field '\(item.path).path': must start with /.")
            }
            return rule
        }
    }

    /// Keystone's `id_string`: 1 to 64 letters, digits and dashes.
    private static func idString(_ f: JSONFields, _ key: String) throws -> String? {
        guard let value = try f.string(key, minLength: 1, maxLength: 64) else { return nil }
        guard value.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) }) else {
            throw APIError.badRequest("Invalid input for field '\(f.path).\(key)': only letters, digits and dashes are allowed.")
        }
        return value
    }
}
