import Foundation
import Hummingbird
import Logging
import MartletCore
import MartletStore
import ServiceContracts

/// The Identity v3 API (Keystone) under `/identity`, and the token validator every service uses.
public final class IdentityService: APIService {
    public let pathPrefix = "identity"
    public let catalogType = "identity"
    public let catalogName = "keystone"
    public let faultFormat: any FaultFormat
    public static let migrations = IdentitySchema.migrations
    public static let defaultDomainID = "default"

    let store: IdentityStore
    let tokens: TokenProvider
    let passwords: PasswordHasher
    let recorder = RouteRecorder()
    let publicURL: String
    /// EC2 credentials resolved for S3, kept like validated tokens.
    let ec2Credentials: ValidationCache<EC2Credential>

    public var validator: any TokenValidator { tokens }

    public init(database: Database, config: MartletConfig) throws {
        publicURL = config.resolvedPublicURL
        store = IdentityStore(db: database, linkBase: "\(publicURL)/identity/v3")
        let keys = try TokenKeys(directory: Self.keyDirectory(config), maxActive: config.maxActiveKeys)
        tokens = TokenProvider(store: store, codec: TokenCodec(keys: keys), lifetime: TimeInterval(config.tokenLifetime),
                               cache: ValidationCache(ttl: .seconds(config.validationCacheSeconds)))
        ec2Credentials = ValidationCache(ttl: .seconds(config.validationCacheSeconds))
        passwords = PasswordHasher(cost: UInt8(config.bcryptCost))
        faultFormat = KeystoneFaults(identityURL: "\(publicURL)/identity")
    }

    static func keyDirectory(_ config: MartletConfig) -> URL {
        config.dataURL.appendingPathComponent("keys/token", isDirectory: true)
    }

    /// Adds a new primary token key (`martlet admin keys rotate`); returns its number.
    public static func rotateKeys(config: MartletConfig) throws -> UInt32 {
        try TokenKeys(directory: keyDirectory(config), maxActive: config.maxActiveKeys).rotate()
    }

    /// Every route with its policy rule, for the policy tests.
    public var routes: [RouteSpec] { recorder.all }

    public func addRoutes(to group: RouterGroup<MartletContext>) {
        let router = PolicyRouter(group: group, policy: IdentityPolicy.table, recorder: recorder)
        VersionRoutes(publicURL: publicURL).register(group)
        AuthRoutes(service: self).register(router)
        ProjectRoutes(service: self).register(router)
        UserRoutes(service: self).register(router)
        RoleRoutes(service: self).register(router)
        AssignmentRoutes(service: self).register(router)
        RoleAssignmentRoutes(service: self).register(router)
        TrustRoutes(service: self).register(router)
        CredentialRoutes(service: self).register(router)
        CatalogRoutes(service: self).register(router)
        PolicyRoutes(service: self).register(router)
        DocumentRoutes(service: self).register(router)
        DomainConfigRoutes(service: self).register(router)
        EndpointFilterRoutes(service: self).register(router)
        AccessRuleRoutes(service: self).register(router)
        RegisteredLimitRoutes(service: self).register(router)
        LimitRoutes(service: self).register(router)
    }

    /// New users and groups land in the caller's domain when the request names none.
    func domainOfCaller(_ auth: AuthContext) -> String {
        switch auth.scope {
        case .project(_, _, let domainID, _): return domainID
        case .domain(let id, _): return id
        default: return Self.defaultDomainID
        }
    }

    /// Drops revocation events no token can still match.
    public func pruneRevocations(maxTokenLifetime: Int) async throws {
        try await store.pruneRevocations(olderThan: Double(maxTokenLifetime) + 60)
    }
}

/// `/identity` and `/identity/v3`: version discovery as keystoneauth expects it.
struct VersionRoutes {
    let publicURL: String

    var version: JSON {
        [
            "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [["rel": "self", "href": .string("\(publicURL)/identity/v3/")]],
            "media-types": [["base": "application/json", "type": "application/vnd.openstack.identity-v3+json"]],
        ]
    }

    func register(_ group: RouterGroup<MartletContext>) {
        for path in [""] {
            group.get(RouterPath(path)) { _, _ -> Response in .json(.multipleChoices, ["versions": ["values": [version]]]) }
        }
        for path in ["/v3"] {
            group.get(RouterPath(path)) { _, _ -> Response in .json(.ok, ["version": version]) }
        }
    }
}
