/// What a policy rule is checked against: the caller and the attributes of the target
/// (path parameters such as `user_id`, and whatever a handler loads, such as `target.owner`).
public struct PolicyRequest: Sendable {
    public var auth: AuthContext
    public var target: [String: String]

    public init(auth: AuthContext, target: [String: String]) {
        self.auth = auth
        self.target = target
    }
}

/// One rule of a service's policy table: a predicate over the caller and the target.
public struct PolicyRule: Sendable {
    public let allows: @Sendable (PolicyRequest) -> Bool

    public init(_ allows: @escaping @Sendable (PolicyRequest) -> Bool) { self.allows = allows }

    public static func || (a: PolicyRule, b: PolicyRule) -> PolicyRule { .init { a.allows($0) || b.allows($0) } }
    public static func && (a: PolicyRule, b: PolicyRule) -> PolicyRule { .init { a.allows($0) && b.allows($0) } }

    public static let anyone = PolicyRule { _ in true }
    public static let nobody = PolicyRule { _ in false }

    /// The caller holds `role` in its token, whatever the scope (OpenStack's `role:<name>`).
    public static func role(_ name: String) -> PolicyRule { .init { $0.auth.hasRole(name) } }

    /// The caller holds `role` in a system-scoped token (`role:<name> and system_scope:all`).
    public static func systemRole(_ name: String) -> PolicyRule {
        .init { $0.auth.isSystemScoped && $0.auth.hasRole(name) }
    }

    /// The target attribute `key` names the calling user (`user_id:%(target.user.id)s`).
    public static func isUser(_ key: String) -> PolicyRule {
        .init { $0.target[key] == $0.auth.userID }
    }

    /// A member of the project that owns the target (`target.project_id`; any project when none is
    /// loaded): Nova's and Cinder's `project_member_api`.
    public static let projectMember = PolicyRule { req in
        req.auth.hasRole("member") && req.auth.projectID != nil
            && (req.target["project_id"] == nil || req.target["project_id"] == req.auth.projectID)
    }

    /// A reader (or member) of the target's project: `project_reader_api`.
    public static let projectReader = PolicyRule { req in
        (req.auth.hasRole("reader") || req.auth.hasRole("member")) && req.auth.projectID != nil
            && (req.target["project_id"] == nil || req.target["project_id"] == req.auth.projectID)
    }

    /// The target attribute `key` names the project the caller's token is scoped to.
    public static func isTokenProject(_ key: String) -> PolicyRule {
        .init { req in req.auth.projectID != nil && req.target[key] == req.auth.projectID }
    }
}

/// A service's named rules. Unknown rule names deny: a route without a rule is a bug, not an open door.
public struct Policy: Sendable {
    public let rules: [String: PolicyRule]

    public init(_ rules: [String: PolicyRule]) { self.rules = rules }

    public func allows(_ name: String, _ request: PolicyRequest) -> Bool {
        rules[name]?.allows(request) ?? false
    }

    public func enforce(_ name: String, auth: AuthContext, target: [String: String] = [:]) throws {
        guard allows(name, PolicyRequest(auth: auth, target: target)) else {
            throw APIError.forbidden("You are not authorized to perform the requested action: \(name).")
        }
    }
}
