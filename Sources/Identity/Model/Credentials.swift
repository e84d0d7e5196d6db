import Foundation
import MartletCore
import SQLKit

struct ApplicationCredential: Sendable {
    var id: String
    var userID: String
    var projectID: String
    var name: String
    var description: String?
    var secretHash: String
    var expiresAt: Double?
    var unrestricted: Bool
    var roles: [AuthContext.Role]
    /// The requests its tokens may make; nil: any.
    var accessRules: [AccessRule]? = nil

    var isExpired: Bool { expiresAt.map { $0 <= Date().timeIntervalSince1970 } ?? false }

    func json(_ store: IdentityStore) -> JSON {
        [
            "id": .string(id), "name": .string(name), "description": JSON(description), "user_id": .string(userID),
            "project_id": .string(projectID),
            // Keystone shows this one without a zone suffix.
            "expires_at": expiresAt.map { .string(Timestamp.microseconds(Date(timeIntervalSince1970: $0), zone: false)) } ?? nil,
            "unrestricted": .bool(unrestricted), "system": nil, "access_rules": .array((accessRules ?? []).map(\.body)),
            "roles": .array(roles.map { ["id": .string($0.id), "name": .string($0.name), "domain_id": nil] }),
            "links": ["self": .string("\(store.linkBase)/users/\(userID)/application_credentials/\(id)")],
        ]
    }
}

extension ApplicationCredential {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        userID = try row.string("user_id")
        projectID = try row.string("project_id")
        name = try row.string("name")
        description = try row.optionalString("description")
        secretHash = try row.string("secret_hash")
        expiresAt = try row.optionalDouble("expires_at")
        unrestricted = try row.bool("unrestricted")
        let rolesJSON = (try? JSON.parse(Array(try row.string("roles").utf8))) ?? .array([])
        if case .array(let items) = rolesJSON {
            roles = items.compactMap { item in
                guard let id = item["id"]?.stringValue, let name = item["name"]?.stringValue else { return nil }
                return AuthContext.Role(id: id, name: name)
            }
        } else {
            roles = []
        }
        accessRules = AccessRule.parse(column: try row.optionalString("access_rules"))
    }
}

/// A `/v3/credentials` entry; EC2 credentials are the ones of type `ec2`, keyed by their access key.
struct Credential: Sendable {
    var id: String
    var userID: String
    var projectID: String?
    var type: String
    var blob: String
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging([
            "id": .string(id), "user_id": .string(userID), "project_id": JSON(projectID), "type": .string(type),
            "blob": .string(blob), "links": store.link("credentials", id),
        ])
    }

    /// The EC2 view: access and secret from the blob.
    func ec2JSON(_ store: IdentityStore) -> JSON {
        let parsed = (try? JSON.parse(Array(blob.utf8))) ?? [:]
        let access = parsed["access"]?.stringValue ?? ""
        return [
            "user_id": .string(userID), "tenant_id": JSON(projectID), "access": .string(access),
            "secret": JSON(parsed["secret"]?.stringValue), "trust_id": nil,
            "links": ["self": .string("\(store.linkBase)/users/\(userID)/credentials/OS-EC2/\(access)")],
        ]
    }
}

extension Credential {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        userID = try row.string("user_id")
        projectID = try row.optionalString("project_id")
        type = try row.string("type")
        blob = try row.string("blob")
        extra = try row.extras()
    }
}

/// A `/v3/policies` blob (stored and returned; Martlet's own policy is in code).
struct PolicyBlob: Sendable {
    var id: String
    var type: String
    var blob: String
    var extra: [String: JSON]

    func json(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging(["id": .string(id), "type": .string(type), "blob": .string(blob), "links": store.link("policies", id)])
    }
}

extension PolicyBlob {
    init(row: any SQLRow) throws {
        id = try row.string("id")
        type = try row.string("type")
        blob = try row.string("blob")
        extra = try row.extras()
    }
}

extension IdentityStore {
    private static let appCredColumns = "id, user_id, project_id, name, description, secret_hash, expires_at, unrestricted, roles, access_rules"

    func applicationCredential(_ id: String, in db: any SQLDatabase) async throws -> ApplicationCredential? {
        try await db.raw("SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE id = \(bind: id)").first()
            .map(ApplicationCredential.init(row:))
    }

    func applicationCredential(named name: String, userID: String, in db: any SQLDatabase) async throws -> ApplicationCredential? {
        try await db.raw("SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE user_id = \(bind: userID) AND name = \(bind: name)")
            .first().map(ApplicationCredential.init(row:))
    }

    func applicationCredentials(userID: String) async throws -> [ApplicationCredential] {
        try await read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.appCredColumns) FROM identity_app_credentials WHERE user_id = \(bind: userID) ORDER BY name")
                .all().map(ApplicationCredential.init(row:))
        }
    }

    func insert(_ a: ApplicationCredential, in db: any SQLDatabase) async throws {
        let roles = JSON.array(a.roles.map { ["id": .string($0.id), "name": .string($0.name)] }).text
        try await db.raw("""
            INSERT INTO identity_app_credentials (id, user_id, project_id, name, description, secret_hash, expires_at, unrestricted, roles, created_at, access_rules)
            VALUES (\(bind: a.id), \(bind: a.userID), \(bind: a.projectID), \(bind: a.name), \(bind: a.description), \(bind: a.secretHash),
                    \(bind: a.expiresAt), \(bind: a.unrestricted), \(bind: roles), \(bind: now()), \(bind: AccessRule.columnText(a.accessRules)))
            """).run()
    }

    func deleteApplicationCredential(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_app_credentials WHERE id = \(bind: id)").run()
    }

    private static let credentialColumns = "id, user_id, project_id, type, blob, extra"

    func credential(_ id: String, in db: any SQLDatabase) async throws -> Credential? {
        try await db.raw("SELECT \(unsafeRaw: Self.credentialColumns) FROM identity_credentials WHERE id = \(bind: id)").first().map(Credential.init(row:))
    }

    func credentials(userID: String?) async throws -> [Credential] {
        try await read { db in
            if let userID {
                return try await db.raw("SELECT \(unsafeRaw: Self.credentialColumns) FROM identity_credentials WHERE user_id = \(bind: userID) ORDER BY id").all().map(Credential.init(row:))
            }
            return try await db.raw("SELECT \(unsafeRaw: Self.credentialColumns) FROM identity_credentials ORDER BY id").all().map(Credential.init(row:))
        }
    }

    func insert(_ c: Credential, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_credentials (id, user_id, project_id, type, blob, extra)
            VALUES (\(bind: c.id), \(bind: c.userID), \(bind: c.projectID), \(bind: c.type), \(bind: c.blob), \(bind: c.extra.columnText))
            """).run()
    }

    func update(_ c: Credential, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_credentials SET user_id = \(bind: c.userID), project_id = \(bind: c.projectID), type = \(bind: c.type),
              blob = \(bind: c.blob), extra = \(bind: c.extra.columnText) WHERE id = \(bind: c.id)
            """).run()
    }

    func deleteCredential(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_credentials WHERE id = \(bind: id)").run()
    }

    func policyBlob(_ id: String, in db: any SQLDatabase) async throws -> PolicyBlob? {
        try await db.raw("SELECT id, type, blob, extra FROM identity_policies WHERE id = \(bind: id)").first().map(PolicyBlob.init(row:))
    }

    func allPolicyBlobs() async throws -> [PolicyBlob] {
        try await read { try await $0.raw("SELECT id, type, blob, extra FROM identity_policies ORDER BY id").all().map(PolicyBlob.init(row:)) }
    }

    func upsert(_ p: PolicyBlob, in db: any SQLDatabase, new: Bool) async throws {
        if new {
            try await db.raw("INSERT INTO identity_policies (id, type, blob, extra) VALUES (\(bind: p.id), \(bind: p.type), \(bind: p.blob), \(bind: p.extra.columnText))").run()
        } else {
            try await db.raw("UPDATE identity_policies SET type = \(bind: p.type), blob = \(bind: p.blob), extra = \(bind: p.extra.columnText) WHERE id = \(bind: p.id)").run()
        }
    }

    func deletePolicyBlob(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_policies WHERE id = \(bind: id)").run()
    }
}
