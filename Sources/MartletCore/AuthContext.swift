import Foundation

/// Who is calling, as established from a validated token. Every service authorizes against this.
public struct AuthContext: Sendable {
    public enum Scope: Sendable, Equatable {
        case unscoped
        case project(id: String, name: String, domainID: String, domainName: String)
        case domain(id: String, name: String)
        case system
    }

    public struct Role: Sendable, Equatable {
        public var id: String
        public var name: String
        public init(id: String, name: String) { self.id = id; self.name = name }
    }

    public var userID: String
    public var userName: String
    public var userDomainID: String
    public var userDomainName: String
    public var scope: Scope
    public var roles: [Role]
    public var methods: [String]
    public var auditIDs: [String]
    public var issuedAt: Date
    public var expiresAt: Date
    public var applicationCredentialID: String?
    public var passwordExpiresAt: Date?
    /// Which requests the token may make at all, whatever the policy says (an application
    /// credential's access rules); nil for a token that may make any. `AuthMiddleware` checks it.
    public var requestLimits: (any RequestLimits)?

    public init(
        userID: String, userName: String, userDomainID: String, userDomainName: String,
        scope: Scope, roles: [Role], methods: [String], auditIDs: [String],
        issuedAt: Date, expiresAt: Date, applicationCredentialID: String? = nil
    ) {
        self.userID = userID
        self.userName = userName
        self.userDomainID = userDomainID
        self.userDomainName = userDomainName
        self.scope = scope
        self.roles = roles
        self.methods = methods
        self.auditIDs = auditIDs
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.applicationCredentialID = applicationCredentialID
    }

    public func hasRole(_ name: String) -> Bool { roles.contains { $0.name == name } }

    public var projectID: String? {
        if case .project(let id, _, _, _) = scope { return id }
        return nil
    }

    public var domainID: String? {
        if case .domain(let id, _) = scope { return id }
        return nil
    }

    public var isSystemScoped: Bool { scope == .system }
}

/// Turns an `X-Auth-Token` into an `AuthContext`. Identity implements it; every service uses it.
public protocol TokenValidator: Sendable {
    func validate(token: String) async throws -> AuthContext
}

/// A token's limits on the requests it may make, checked on every request before any route runs.
public protocol RequestLimits: Sendable {
    /// `serviceType` is the catalog type of the API the request is for (nil for paths outside every
    /// API), `path` the request path below that API's prefix (`/v2.1/servers` for `/compute/v2.1/servers`).
    func allows(serviceType: String?, method: String, path: String) -> Bool
}
