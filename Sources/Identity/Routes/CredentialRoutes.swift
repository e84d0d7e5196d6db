import Foundation
import Hummingbird
import MartletCore

/// Application credentials, `/v3/credentials` and the EC2 view of them.
struct CredentialRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        let appCreds = "/v3/users/:user_id/application_credentials"
        r.get(appCreds, rule: "identity:list_application_credentials") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            let user = try await store.requireUser(try call.param("user_id"))
            let names = NameFilter(query: call.queryItems)
            let list = try await store.applicationCredentials(userID: user.id).filter { names.matches($0.name) }
            return .json(.ok, ["application_credentials": .array(list.map { $0.json(store) }), "links": store.collectionLinks("users/\(user.id)/application_credentials")])
        }
        r.post(appCreds, rule: "identity:create_application_credential") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            return try await createApplicationCredential(call)
        }
        r.get("\(appCreds)/:credential_id", rule: "identity:get_application_credential") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            return .json(.ok, ["application_credential": try await applicationCredential(call).json(store)])
        }
        r.delete("\(appCreds)/:credential_id", rule: "identity:delete_application_credential") { call in
            try await service.refuseTrustScoped(call, what: "application credentials")
            let credential = try await applicationCredential(call)
            try await store.transaction { try await store.deleteApplicationCredential(credential.id, in: $0) }
            return .empty()
        }

        r.get("/v3/credentials", rule: "identity:list_credentials") { call in
            try await service.refuseTrustScoped(call)
            // Readers see every credential; anyone else only their own.
            let userID = call.can("identity:get_credential") ? call.query("user_id") : call.auth.userID
            let type = call.query("type")
            let list = try await store.credentials(userID: userID).filter { type == nil || $0.type == type }
            return .json(.ok, ["credentials": .array(list.map { $0.json(store) }), "links": store.collectionLinks("credentials")])
        }
        r.post("/v3/credentials", rule: "identity:create_credential", loadsTarget: true) { call in
            try await service.refuseTrustScoped(call)
            let f = try JSONFields.body(try await call.body(), wrapper: "credential")
            let userID = try f.requiredString("user_id", maxLength: 64)
            try call.authorize(["owner_id": userID])
            _ = try await store.requireUser(userID)
            let type = try f.requiredString("type", maxLength: 255)
            let blob = try f.requiredString("blob", maxLength: 65536)
            let projectID = try f.string("project_id", maxLength: 64, nullable: true)
            var id = Identifier.hex()
            if type == "ec2" {
                guard let projectID else { throw APIError.badRequest("Invalid input for field 'credential.project_id': ec2 credentials need a project.") }
                try await requireAccess(call, userID: userID, projectID: projectID)
                guard let access = (try? JSON.parse(Array(blob.utf8)))?["access"]?.stringValue else {
                    throw APIError.badRequest("Invalid input for field 'credential.blob': an ec2 blob is JSON with an 'access' key.")
                }
                id = Self.ec2ID(access)
            }
            let credential = Credential(id: id, userID: userID, projectID: projectID, type: type, blob: blob,
                                        extra: f.extras(excluding: ["id", "user_id", "project_id", "type", "blob", "links"]))
            try await store.write(conflict: "Conflict occurred attempting to store credential - Duplicate entry.") { try await store.insert(credential, in: $0) }
            return .json(.created, ["credential": credential.json(store)])
        }
        r.get("/v3/credentials/:credential_id", rule: "identity:get_credential", loadsTarget: true) { call in
            try await service.refuseTrustScoped(call)
            return .json(.ok, ["credential": try await ownedCredential(call).json(store)])
        }
        r.patch("/v3/credentials/:credential_id", rule: "identity:update_credential", loadsTarget: true) { call in
            try await service.refuseTrustScoped(call)
            var credential = try await ownedCredential(call)
            let f = try JSONFields.body(try await call.body(), wrapper: "credential")
            if let userID = try f.string("user_id", maxLength: 64), userID != credential.userID {
                // Handing a credential to someone else is an admin's act (Keystone, OSSA-2020-005).
                try call.authorize(["owner_id": userID])
                _ = try await store.requireUser(userID)
                credential.userID = userID
            }
            if f.has("project_id") { credential.projectID = try f.string("project_id", maxLength: 64, nullable: true) }
            if let type = try f.string("type", minLength: 1, maxLength: 255) { credential.type = type }
            if let blob = try f.string("blob", maxLength: 65536) { credential.blob = blob }
            if credential.type == "ec2" {
                guard let projectID = credential.projectID else {
                    throw APIError.badRequest("Invalid input for field 'credential.project_id': ec2 credentials need a project.")
                }
                try await requireAccess(call, userID: credential.userID, projectID: projectID)
            }
            for (key, value) in f.extras(excluding: ["id", "user_id", "project_id", "type", "blob", "links"]) { credential.extra[key] = value }
            try await store.transaction { try await store.update(credential, in: $0) }
            return .json(.ok, ["credential": credential.json(store)])
        }
        r.delete("/v3/credentials/:credential_id", rule: "identity:delete_credential", loadsTarget: true) { call in
            try await service.refuseTrustScoped(call)
            let credential = try await ownedCredential(call)
            try await store.transaction { try await store.deleteCredential(credential.id, in: $0) }
            return .empty()
        }

        let ec2 = "/v3/users/:user_id/credentials/OS-EC2"
        r.get(ec2, rule: "identity:ec2_list_credentials") { call in
            try await service.refuseTrustScoped(call)
            let user = try await store.requireUser(try call.param("user_id"))
            let list = try await store.credentials(userID: user.id).filter { $0.type == "ec2" }
            return .json(.ok, ["credentials": .array(list.map { $0.ec2JSON(store) }), "links": store.collectionLinks("users/\(user.id)/credentials/OS-EC2")])
        }
        r.post(ec2, rule: "identity:ec2_create_credential") { call in
            try await service.refuseTrustScoped(call)
            let user = try await store.requireUser(try call.param("user_id"))
            let f = try JSONFields(try await call.body(), path: "")
            let projectID = try f.requiredString("tenant_id", maxLength: 64)
            _ = try await store.requireProject(projectID)
            try await requireAccess(call, userID: user.id, projectID: projectID)
            let access = Identifier.hex(), secret = Identifier.hex()
            let blob = JSON.object(["access": .string(access), "secret": .string(secret), "trust_id": nil]).text
            let credential = Credential(id: Self.ec2ID(access), userID: user.id, projectID: projectID, type: "ec2", blob: blob, extra: [:])
            try await store.transaction { try await store.insert(credential, in: $0) }
            return .json(.created, ["credential": credential.ec2JSON(store)])
        }
        r.get("\(ec2)/:access", rule: "identity:ec2_get_credential") { call in
            try await service.refuseTrustScoped(call)
            return .json(.ok, ["credential": try await ec2Credential(call).ec2JSON(store)])
        }
        r.delete("\(ec2)/:access", rule: "identity:ec2_delete_credential") { call in
            try await service.refuseTrustScoped(call)
            let credential = try await ec2Credential(call)
            try await store.transaction { try await store.deleteCredential(credential.id, in: $0) }
            return .empty()
        }
    }

    /// Keystone keys EC2 credentials by the SHA-256 of their access key.
    static func ec2ID(_ access: String) -> String {
        PasswordHasher(cost: 4).hashRandomSecret(access).dropFirst(PasswordHasher.sha256Prefix.count).description
    }

    /// An EC2 credential acts for its user on its project: the user must have a role there, unless
    /// an admin says otherwise (the credential then authenticates nothing until the user gets one).
    private func requireAccess(_ call: APICall, userID: String, projectID: String) async throws {
        if call.can("identity:credential_for_any_project") { return }
        _ = try await store.requireProject(projectID)
        let roles = try await store.read { try await store.effectiveRoles(userID: userID, targetType: .project, targetID: projectID, in: $0) }
        guard !roles.isEmpty else {
            throw APIError.forbidden("You are not authorized to perform the requested action: user \(userID) has no role on project \(projectID).")
        }
    }

    private func ec2Credential(_ call: APICall) async throws -> Credential {
        let access = try call.param("access")
        guard let credential = try await store.read({ try await store.credential(Self.ec2ID(access), in: $0) }),
              credential.userID == (try call.param("user_id")), credential.type == "ec2" else {
            throw APIError.notFound("Could not find credential: \(access).")
        }
        return credential
    }

    private func ownedCredential(_ call: APICall) async throws -> Credential {
        let id = try call.param("credential_id")
        let credential = try await store.read { try await store.credential(id, in: $0) }
        // Someone else's credential is "not found" to a caller who may not see it.
        guard let credential, call.can(call.rule!, ["owner_id": credential.userID]) else {
            throw APIError.notFound("Could not find credential: \(id).")
        }
        try call.authorize(["owner_id": credential.userID])
        return credential
    }

    private func applicationCredential(_ call: APICall) async throws -> ApplicationCredential {
        let id = try call.param("credential_id")
        let userID = try call.param("user_id")
        guard let credential = try await store.read({ try await store.applicationCredential(id, in: $0) }), credential.userID == userID else {
            throw APIError.notFound("Could not find Application Credential: \(id).")
        }
        return credential
    }

    private func createApplicationCredential(_ call: APICall) async throws -> Response {
        let user = try await store.requireUser(try call.param("user_id"))
        guard let projectID = call.auth.projectID else {
            throw APIError.forbidden("Application credentials must be created with a project-scoped token.")
        }
        if let current = call.auth.applicationCredentialID,
           let parent = try await store.read({ try await store.applicationCredential(current, in: $0) }), !parent.unrestricted {
            throw APIError.forbidden("A restricted application credential cannot create another.")
        }
        let f = try JSONFields.body(try await call.body(), wrapper: "application_credential")
        let name = try f.requiredString("name", maxLength: 255)
        var roles = call.auth.roles
        if let requested = try f.objects("roles"), !requested.isEmpty {
            roles = try requested.map { item in
                let id = try item.string("id"), name = try item.string("name")
                guard let match = call.auth.roles.first(where: { $0.id == id || $0.name == name }) else {
                    throw APIError.forbidden("The role \(id ?? name ?? "?") is not held by the token used to create the application credential.")
                }
                return match
            }
        }
        var expiresAt: Double?
        if let text = try f.string("expires_at", nullable: true) {
            guard let date = Timestamp.parse(text) else { throw APIError.badRequest("Invalid input for field 'application_credential.expires_at': not an ISO 8601 time.") }
            guard date > Date() else { throw APIError.badRequest("Invalid input for field 'application_credential.expires_at': the time is in the past.") }
            expiresAt = date.timeIntervalSince1970
        }
        let requestedRules = try AccessRuleRoutes.requested(f)
        let supplied = try f.string("secret", minLength: 1, maxLength: 4096, nullable: true)
        let secret = supplied ?? TokenCodec.newAuditID() + TokenCodec.newAuditID() + TokenCodec.newAuditID()
        let hash = supplied == nil ? service.passwords.hashRandomSecret(secret) : try await service.passwords.hash(secret)
        let credential = ApplicationCredential(
            id: Identifier.hex(), userID: user.id, projectID: projectID, name: name,
            description: try f.string("description", nullable: true), secretHash: hash, expiresAt: expiresAt,
            unrestricted: try f.bool("unrestricted") ?? false, roles: roles)
        let saved = try await store.write(conflict: "Conflict occurred attempting to store application_credential - Duplicate entry found with name \(name).") { db in
            var credential = credential
            if let requestedRules { credential.accessRules = try await store.resolve(requestedRules, userID: user.id, in: db) }
            try await store.insert(credential, in: db)
            for rule in credential.accessRules ?? [] { try await store.attach(rule.id, toApplicationCredential: credential.id, in: db) }
            return credential
        }
        return .json(.created, ["application_credential": saved.json(store).merging(["secret": .string(secret)])])
    }
}
