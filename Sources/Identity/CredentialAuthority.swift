import Foundation
import MartletCore
import ServiceContracts

extension IdentityService: CredentialAuthority {
    public func issueToken(projectName: String, userName: String, password: String) async throws -> (token: String, auth: AuthContext)? {
        let found = try await store.read { db -> (User, Project)? in
            guard let user = try await store.user(named: userName, domainID: Self.defaultDomainID, in: db),
                  let project = try await store.project(named: projectName, domainID: Self.defaultDomainID, in: db) else { return nil }
            return (user, project)
        }
        guard let (user, project) = found, user.enabled, project.enabled, let hash = user.passwordHash,
              try await passwords.verify(password, hash: hash) else { return nil }
        let payload = tokens.newPayload(userID: user.id, methods: ["password"], projectID: project.id)
        guard let (token, validated) = try? await tokens.issue(payload) else { return nil }
        return (token, validated.auth)
    }

    public func ec2Credential(access: String) async throws -> EC2Credential? {
        let generation = store.changes.current
        if let hit = ec2Credentials.value(access, generation: generation) { return hit }
        guard let credential = try await store.read({ try await store.credential(CredentialRoutes.ec2ID(access), in: $0) }),
              credential.type == "ec2", let projectID = credential.projectID,
              let blob = try? JSON.parse(Array(credential.blob.utf8)), blob["access"]?.stringValue == access,
              let secret = blob["secret"]?.stringValue else { return nil }
        // Resolved as a token for the project would be: an ended access resolves to nothing.
        let payload = tokens.newPayload(userID: credential.userID, methods: ["ec2credential"], projectID: projectID)
        let auth = try? await tokens.resolved(payload).auth
        let found = EC2Credential(access: access, secret: secret, userID: credential.userID, projectID: projectID, auth: auth)
        ec2Credentials.store(found, for: access, generation: generation)
        return found
    }
}
