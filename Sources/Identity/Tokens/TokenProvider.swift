import Foundation
import MartletCore
import SQLKit

/// A token that validated, with what Identity needs to render it.
struct ValidatedToken: Sendable {
    var auth: AuthContext
    var payload: TokenPayload
    var applicationCredential: ApplicationCredential?
    /// OS-TRUST: the trust of a trust-scoped token.
    var trust: TrustToken?
}

/// Issues and validates tokens. Validation reads the database (user, scope, roles, revocations)
/// and writes nothing.
struct TokenProvider: TokenValidator {
    let store: IdentityStore
    let codec: TokenCodec
    let lifetime: TimeInterval
    let cache: ValidationCache<ValidatedToken>

    static let notFound = APIError.notFound("Failed to validate token")

    func validate(token: String) async throws -> AuthContext {
        try await validated(token).auth
    }

    func validated(_ token: String) async throws -> ValidatedToken {
        let generation = store.changes.current
        if let hit = cache.value(token, generation: generation), hit.payload.expiresAt > Date().timeIntervalSince1970 {
            return hit
        }
        guard let payload = codec.open(token), payload.expiresAt > Date().timeIntervalSince1970 else { throw Self.notFound }
        let validated = try await store.read { db in
            if try await store.isRevoked(payload, in: db) { throw Self.notFound }
            switch try await resolve(payload, in: db) {
            case .success(let token): return token
            case .failure: throw Self.notFound
            }
        }
        cache.store(validated, for: token, generation: generation)
        return validated
    }

    /// Seals a new token for `payload` after checking the user may hold it; returns it resolved.
    func issue(_ payload: TokenPayload) async throws -> (token: String, validated: ValidatedToken) {
        (try codec.seal(payload), try await resolved(payload))
    }

    /// What a token with this payload would stand for now, or why the user may not hold it.
    func resolved(_ payload: TokenPayload) async throws -> ValidatedToken {
        try await store.read { try await resolve(payload, in: $0) }.get()
    }

    func newPayload(userID: String, methods: [String], projectID: String? = nil, domainID: String? = nil,
                    system: Bool = false, expiresAt: Double? = nil, parentAuditID: String? = nil,
                    applicationCredentialID: String? = nil, trustID: String? = nil) -> TokenPayload {
        let now = Date().timeIntervalSince1970
        return TokenPayload(
            userID: userID, methods: methods, projectID: projectID, domainID: domainID, system: system,
            issuedAt: now, expiresAt: min(expiresAt ?? .infinity, now + lifetime),
            auditIDs: [TokenCodec.newAuditID()] + (parentAuditID.map { [$0] } ?? []),
            applicationCredentialID: applicationCredentialID, trustID: trustID)
    }

    /// Works out who the payload's user is and which roles it holds on its scope, or why it may not.
    private func resolve(_ p: TokenPayload, in db: any SQLDatabase) async throws -> Result<ValidatedToken, APIError> {
        func denied(_ message: String) -> Result<ValidatedToken, APIError> { .failure(.unauthorized(message)) }
        guard let user = try await store.user(p.userID, in: db), user.enabled else {
            return denied("The request you have made requires authentication.")
        }
        guard let userDomain = try await store.project(user.domainID, in: db), userDomain.enabled else {
            return denied("The request you have made requires authentication.")
        }
        let scope: AuthContext.Scope
        var roles: [AuthContext.Role] = []
        if let projectID = p.projectID {
            guard let project = try await store.project(projectID, in: db), !project.isDomain, project.enabled,
                  let domain = try await store.project(project.domainID, in: db), domain.enabled else {
                return denied("Could not find an enabled project: \(projectID).")
            }
            scope = .project(id: project.id, name: project.name, domainID: domain.id, domainName: domain.name)
            // A trust-scoped token holds what the trust delegates, worked out below.
            if p.trustID == nil {
                roles = try await store.effectiveRoles(userID: user.id, targetType: .project, targetID: project.id, in: db)
            }
        } else if let domainID = p.domainID {
            guard let domain = try await store.project(domainID, in: db), domain.isDomain, domain.enabled else {
                return denied("Could not find an enabled domain: \(domainID).")
            }
            scope = .domain(id: domain.id, name: domain.name)
            roles = try await store.effectiveRoles(userID: user.id, targetType: .domain, targetID: domain.id, in: db)
        } else if p.system {
            scope = .system
            roles = try await store.effectiveRoles(userID: user.id, targetType: .system, targetID: "all", in: db)
        } else {
            scope = .unscoped
        }
        var trust: TrustToken?
        if let id = p.trustID {
            switch try await resolveTrust(id, payload: p, trustee: user, in: db) {
            case .failure(let error): return .failure(error)
            case .success(let (found, delegated)): (trust, roles) = (found, delegated)
            }
        }
        var applicationCredential: ApplicationCredential?
        if let id = p.applicationCredentialID {
            guard let credential = try await store.applicationCredential(id, in: db), !credential.isExpired,
                  credential.userID == user.id else {
                return denied("The application credential is not valid.")
            }
            // The credential delegates at most the roles it was made with, and only while the user still holds them.
            let delegated = Set(credential.roles.map(\.id))
            var granted = roles.filter { delegated.contains($0.id) }
            if !granted.isEmpty {
                // roles the delegated ones imply still count
                let implied = try await impliedClosure(of: granted, in: db)
                granted = roles.filter { implied.contains($0.id) }
            }
            roles = granted
            applicationCredential = credential
        }
        if scope != .unscoped && roles.isEmpty {
            return denied("User \(user.id) has no access to the requested scope.")
        }
        // Under impersonation the token stands for the trustor, as its body and every service see it.
        let (shown, shownDomain) = trust.flatMap { $0.trust.impersonation ? ($0.trustor, $0.trustorDomain) : nil } ?? (user, userDomain)
        var auth = AuthContext(
            userID: shown.id, userName: shown.name, userDomainID: shownDomain.id, userDomainName: shownDomain.name,
            scope: scope, roles: roles, methods: p.methods, auditIDs: p.auditIDs,
            issuedAt: Date(timeIntervalSince1970: p.issuedAt), expiresAt: Date(timeIntervalSince1970: p.expiresAt),
            applicationCredentialID: p.applicationCredentialID)
        // Read with the credential's row above: no extra query, and none at all for credentials without rules.
        auth.requestLimits = applicationCredential?.accessRules.map(AccessRuleLimits.init(rules:))
        return .success(ValidatedToken(auth: auth, payload: p, applicationCredential: applicationCredential, trust: trust))
    }

    private func impliedClosure(of roles: [AuthContext.Role], in db: any SQLDatabase) async throws -> Set<String> {
        let rules = try await store.inferenceRules(in: db)
        var closure = Set(roles.map(\.id))
        var frontier = Array(closure)
        while let next = frontier.popLast() {
            for rule in rules where rule.prior == next && !closure.contains(rule.implied) {
                closure.insert(rule.implied)
                frontier.append(rule.implied)
            }
        }
        return closure
    }

    /// `render(token, catalog:).serialized()` with the catalog (already substituted) given as text.
    func serialized(_ token: ValidatedToken, serializedCatalog: [UInt8]) -> [UInt8] {
        guard token.auth.scope != .unscoped, case .object(let wrapper) = render(token, catalog: nil),
              case .object(let body)? = wrapper["token"] else {
            return render(token, catalog: nil).serialized()
        }
        var out = Array(#"{"token":"#.utf8)
        out.append(contentsOf: JSON.serializedObject(body, key: "catalog", serializedValue: serializedCatalog))
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The `{"token": …}` body Keystone returns on issue and validation.
    func render(_ token: ValidatedToken, catalog: JSON?) -> JSON {
        let auth = token.auth
        var body: [String: JSON] = [
            "methods": JSON(auth.methods),
            "user": [
                "id": .string(auth.userID), "name": .string(auth.userName), "password_expires_at": nil,
                "domain": ["id": .string(auth.userDomainID), "name": .string(auth.userDomainName)],
            ],
            "audit_ids": JSON(auth.auditIDs),
            "issued_at": .string(Timestamp.microseconds(auth.issuedAt)),
            "expires_at": .string(Timestamp.microseconds(auth.expiresAt)),
        ]
        switch auth.scope {
        case .unscoped: break
        case .project(let id, let name, let domainID, let domainName):
            body["project"] = ["id": .string(id), "name": .string(name), "domain": ["id": .string(domainID), "name": .string(domainName)]]
            if token.trust == nil { body["is_domain"] = false }
        case .domain(let id, let name):
            body["domain"] = ["id": .string(id), "name": .string(name)]
        case .system:
            body["system"] = ["all": true]
        }
        if auth.scope != .unscoped {
            body["roles"] = .array(auth.roles.map { ["id": .string($0.id), "name": .string($0.name)] })
            if let catalog { body["catalog"] = Catalog.substituted(catalog, projectID: auth.projectID) }
        }
        if let trust = token.trust {
            body["OS-TRUST:trust"] = trust.json
            // A trust without a project still shows its (empty) roles, as Keystone's trust scope does.
            if body["roles"] == nil { body["roles"] = .array(auth.roles.map { ["id": .string($0.id), "name": .string($0.name)] }) }
        }
        if let credential = token.applicationCredential {
            var shown: [String: JSON] = ["id": .string(credential.id), "name": .string(credential.name),
                                         "restricted": .bool(!credential.unrestricted)]
            if let rules = credential.accessRules { shown["access_rules"] = .array(rules.map(\.body)) }
            body["application_credential"] = .object(shown)
        }
        return ["token": .object(body)]
    }
}
