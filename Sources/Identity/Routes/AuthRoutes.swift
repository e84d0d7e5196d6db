import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/v3/auth/*`: issuing, validating and revoking tokens, and what a token may reach.
struct AuthRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }
    var tokens: TokenProvider { service.tokens }

    func register(_ r: PolicyRouter) {
        r.post("/v3/auth/tokens", rule: nil) { try await issue($0) }
        r.get("/v3/auth/tokens", rule: "identity:validate_token", loadsTarget: true) { try await check($0, body: true) }
        r.head("/v3/auth/tokens", rule: "identity:validate_token", loadsTarget: true) { try await check($0, body: false) }
        r.delete("/v3/auth/tokens", rule: "identity:revoke_token", loadsTarget: true) { call in
            let subject = try await subjectToken(call)
            try call.authorize(["owner_id": subject.payload.userID])
            try await store.transaction { db in
                for auditID in subject.payload.auditIDs.prefix(1) { try await store.revoke(auditID: auditID, in: db) }
            }
            return .empty()
        }
        r.get("/v3/auth/catalog", rule: "identity:get_auth_catalog") { call in
            guard call.auth.scope != .unscoped else {
                throw APIError.forbidden("A project-scoped token is required to produce a service catalog.")
            }
            let catalog = try await store.catalog(forProject: call.auth.projectID)
            return .json(.ok, ["catalog": Catalog.substituted(catalog, projectID: call.auth.projectID), "links": store.collectionLinks("auth/catalog")])
        }
        r.get("/v3/auth/projects", rule: "identity:get_auth_projects") { call in
            let ids = Set(try await store.read { try await store.targetIDs(ofUser: call.auth.userID, type: .project, in: $0) })
            let projects = try await store.allProjects().filter { ids.contains($0.id) && $0.enabled && !$0.isDomain }
            return .json(.ok, ["projects": .array(projects.map { $0.json(store) }), "links": store.collectionLinks("auth/projects")])
        }
        r.get("/v3/auth/domains", rule: "identity:get_auth_domains") { call in
            let ids = Set(try await store.read { try await store.targetIDs(ofUser: call.auth.userID, type: .domain, in: $0) })
            let domains = try await store.allProjects().filter { ids.contains($0.id) && $0.enabled && $0.isDomain }
            return .json(.ok, ["domains": .array(domains.map { $0.json(store) }), "links": store.collectionLinks("auth/domains")])
        }
        r.get("/v3/auth/system", rule: "identity:get_auth_system") { call in
            let roles = try await store.read { try await store.effectiveRoles(userID: call.auth.userID, targetType: .system, targetID: "all", in: $0) }
            return .json(.ok, ["system": roles.isEmpty ? [] : [["all": true]], "links": store.collectionLinks("auth/system")])
        }
    }

    private func subjectToken(_ call: APICall) async throws -> ValidatedToken {
        guard let token = call.request.header("X-Subject-Token"), !token.isEmpty else {
            throw APIError.badRequest("The X-Subject-Token header is required.")
        }
        return try await tokens.validated(token)
    }

    private func check(_ call: APICall, body: Bool) async throws -> Response {
        let subject = try await subjectToken(call)
        // The owner is the user who authenticated (the trustee of a trust-scoped token), as Keystone's token_subject.
        try call.authorize(["owner_id": subject.payload.userID])
        // As Keystone: a validator that does not say it enforces access rules must not accept a token that has some.
        if subject.applicationCredential?.accessRules != nil,
           (call.request.header("OpenStack-Identity-Access-Rules").flatMap(Double.init) ?? 0) < 1.0 {
            throw TokenProvider.notFound
        }
        let headers: HTTPFields = [.subjectToken: call.request.header("X-Subject-Token")!]
        guard body else { return .empty(.ok, headers: headers) }
        guard call.query("nocatalog") == nil else { return .json(.ok, tokens.render(subject, catalog: nil), headers: headers) }
        // Every validation sends the catalog: its text is kept with the cached catalog, not rebuilt.
        let catalog = try await store.serializedCatalog(forProject: subject.auth.projectID)
        var json = headers
        json[.contentType] = "application/json"
        return Response(status: .ok, headers: json, body: .init(byteBuffer: ByteBuffer(bytes: tokens.serialized(subject, serializedCatalog: catalog))))
    }

    // MARK: Issuing

    private func issue(_ call: APICall) async throws -> Response {
        let root = try JSONFields(try await call.body(), path: "")
        guard let auth = try root.object("auth") else { throw APIError.badRequest("Invalid input for field 'auth': the field is required.") }
        guard let identity = try auth.object("identity") else { throw APIError.badRequest("Invalid input for field 'auth.identity': the field is required.") }
        guard let methods = try identity.strings("methods"), !methods.isEmpty else {
            throw APIError.badRequest("Invalid input for field 'auth.identity.methods': a non-empty list of methods is required.")
        }
        let payload: TokenPayload
        if methods.contains("application_credential") {
            guard let fields = try identity.object("application_credential") else { throw Self.badAuth("application_credential") }
            if auth.has("scope") { throw APIError.forbidden("Application credentials cannot request a scope.") }
            payload = try await applicationCredentialPayload(fields, methods: methods)
        } else if methods.contains("password") {
            guard let fields = try identity.object("password") else { throw Self.badAuth("password") }
            let user = try await passwordUser(fields)
            payload = try await scopedPayload(userID: user.id, defaultProject: user.defaultProjectID, methods: methods, auth: auth)
        } else if methods.contains("token") {
            guard let fields = try identity.object("token") else { throw Self.badAuth("token") }
            let token = try fields.requiredString("id")
            let parent: ValidatedToken
            do { parent = try await tokens.validated(token) } catch { throw APIError.unauthorized("The token used to authenticate is not valid.") }
            if parent.applicationCredential != nil { throw APIError.forbidden("A token created with an application credential cannot be rescoped.") }
            if parent.trust != nil {
                throw APIError.forbidden("You are not authorized to perform the requested action: Using trust-scoped token to create another token. Create a new trust-scoped token instead.")
            }
            let inherited = parent.payload.methods + (parent.payload.methods.contains("token") ? [] : ["token"])
            payload = try await scopedPayload(userID: parent.payload.userID, defaultProject: nil, methods: inherited,
                                              auth: auth, expiresAt: parent.payload.expiresAt, parentAuditID: parent.payload.auditIDs.first)
        } else {
            throw APIError.unauthorized("Attempted to authenticate with an unsupported method.")
        }
        let (token, validated) = try await tokens.issue(payload)
        // A trust with limited uses gives one up per token issued through it (none taken for the others).
        if let trust = validated.trust?.trust, trust.remainingUses != nil {
            guard try await store.transaction({ try await store.consumeTrustUse(trust.id, in: $0) }) else {
                throw APIError.forbidden("No remaining uses for trust: \(trust.id).")
            }
        }
        let catalog: JSON? = call.query("nocatalog") == nil ? try await store.catalog(forProject: validated.auth.projectID) : .none
        return .json(.created, tokens.render(validated, catalog: catalog), headers: [.subjectToken: token])
    }

    static func badAuth(_ method: String) -> APIError {
        .badRequest("Invalid input for field 'auth.identity.\(method)': the field is required for method \(method).")
    }

    static let authFailed = APIError.unauthorized("The request you have made requires authentication.")

    /// Finds the user named in `{"user": {"id"}}` or `{"user": {"name", "domain": {"id"|"name"}}}`.
    private func namedUser(_ user: JSONFields) async throws -> User? {
        if let id = try user.string("id", minLength: 1, maxLength: 64) {
            return try await store.read { try await store.user(id, in: $0) }
        }
        let name = try user.requiredString("name", maxLength: 255)
        guard let domainFields = try user.object("domain") else {
            throw APIError.badRequest("Invalid input for field 'user.domain': a user named without an id needs its domain.")
        }
        return try await store.read { db in
            guard let domain = try await domainNamed(domainFields, in: db) else { return nil }
            return try await store.user(named: name, domainID: domain.id, in: db)
        }
    }

    private func domainNamed(_ fields: JSONFields, in db: any SQLDatabase) async throws -> Project? {
        if let id = try fields.string("id", minLength: 1, maxLength: 64) {
            guard let d = try await store.project(id, in: db), d.isDomain else { return nil }
            return d
        }
        return try await store.domain(named: try fields.requiredString("name", maxLength: 64), in: db)
    }

    private func passwordUser(_ fields: JSONFields) async throws -> User {
        guard let userFields = try fields.object("user") else { throw APIError.badRequest("Invalid input for field 'password.user': the field is required.") }
        let password = try userFields.string("password", maxLength: 4096) ?? ""
        guard let user = try await namedUser(userFields), user.enabled, let hash = user.passwordHash,
              try await service.passwords.verify(password, hash: hash) else { throw Self.authFailed }
        return user
    }

    private func applicationCredentialPayload(_ fields: JSONFields, methods: [String]) async throws -> TokenPayload {
        let secret = try fields.requiredString("secret", maxLength: 4096)
        let credential: ApplicationCredential?
        if let id = try fields.string("id", minLength: 1, maxLength: 64) {
            credential = try await store.read { try await store.applicationCredential(id, in: $0) }
        } else {
            let name = try fields.requiredString("name", maxLength: 255)
            guard let userFields = try fields.object("user"), let user = try await namedUser(userFields) else { throw Self.authFailed }
            credential = try await store.read { try await store.applicationCredential(named: name, userID: user.id, in: $0) }
        }
        guard let credential, !credential.isExpired, try await service.passwords.verify(secret, hash: credential.secretHash) else {
            throw Self.authFailed
        }
        return tokens.newPayload(userID: credential.userID, methods: ["application_credential"], projectID: credential.projectID,
                                 expiresAt: credential.expiresAt, applicationCredentialID: credential.id)
    }

    /// The payload for the scope the request asks for (or the user's default project).
    private func scopedPayload(userID: String, defaultProject: String?, methods: [String], auth: JSONFields,
                               expiresAt: Double? = nil, parentAuditID: String? = nil) async throws -> TokenPayload {
        func payload(project: String? = nil, domain: String? = nil, system: Bool = false) -> TokenPayload {
            tokens.newPayload(userID: userID, methods: methods, projectID: project, domainID: domain, system: system,
                              expiresAt: expiresAt, parentAuditID: parentAuditID)
        }
        guard let scopeValue = auth.members["scope"] else {
            if let defaultProject {
                let roles = try await store.read { try await store.effectiveRoles(userID: userID, targetType: .project, targetID: defaultProject, in: $0) }
                if !roles.isEmpty, let p = try await store.project(defaultProject), p.enabled { return payload(project: defaultProject) }
            }
            return payload()
        }
        if scopeValue == .string("unscoped") { return payload() }
        let scope = try JSONFields(scopeValue, path: "auth.scope")
        if ["project", "domain", "system", "unscoped", "OS-TRUST:trust"].filter(scope.has).count > 1 {
            throw APIError.badRequest("Invalid input for field 'auth.scope': specify only one of system, project, domain, OS-TRUST:trust or unscoped.")
        }
        if let trust = try scope.object("OS-TRUST:trust") {
            return try await trustPayload(trust, userID: userID, methods: methods, expiresAt: expiresAt, parentAuditID: parentAuditID)
        }
        if let project = try scope.object("project") {
            let found: Project? = try await store.read { db in
                if let id = try project.string("id", minLength: 1, maxLength: 64) { return try await store.project(id, in: db) }
                let name = try project.requiredString("name", maxLength: 64)
                guard let domainFields = try project.object("domain") else {
                    throw APIError.badRequest("Invalid input for field 'auth.scope.project.domain': a project named without an id needs its domain.")
                }
                guard let domain = try await domainNamed(domainFields, in: db) else { return nil }
                return try await store.project(named: name, domainID: domain.id, in: db)
            }
            guard let found, !found.isDomain else { throw APIError.unauthorized("Could not find the requested project.") }
            return payload(project: found.id)
        }
        if let domain = try scope.object("domain") {
            guard let found = try await store.read({ try await domainNamed(domain, in: $0) }) else {
                throw APIError.unauthorized("Could not find the requested domain.")
            }
            return payload(domain: found.id)
        }
        if let system = try scope.object("system") {
            guard try system.bool("all") == true else { throw APIError.badRequest("Invalid input for field 'auth.scope.system': only {\"all\": true} is supported.") }
            return payload(system: true)
        }
        throw APIError.badRequest("Invalid input for field 'auth.scope': expected project, domain or system.")
    }

    /// `{"OS-TRUST:trust": {"id"}}`: a token for the trust's project, checked (trustee, roles) when issued.
    /// It lasts no longer than the trust. As Keystone, a trust that is gone, expired or used up is a 401.
    private func trustPayload(_ fields: JSONFields, userID: String, methods: [String], expiresAt: Double?,
                              parentAuditID: String?) async throws -> TokenPayload {
        let id = try fields.requiredString("id", maxLength: 64)
        let notFound = APIError.unauthorized("Could not find trust: \(id).")
        guard let trust = try await store.read({ try await store.trust(id, in: $0) }),
              !trust.isExpired(at: store.now()), (trust.remainingUses ?? 1) > 0 else { throw notFound }
        if let projectID = trust.projectID {
            guard let project = try await store.project(projectID), project.enabled else {
                throw APIError.unauthorized("Could not find the requested project.")
            }
        }
        let until = [expiresAt, trust.expiresAt].compactMap { $0 }.min()
        return tokens.newPayload(userID: userID, methods: methods, projectID: trust.projectID, expiresAt: until,
                                 parentAuditID: parentAuditID, trustID: trust.id)
    }
}
