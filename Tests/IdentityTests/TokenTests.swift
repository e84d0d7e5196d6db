import Foundation
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

@Suite struct TokenTests {
    @Test(arguments: TestBackend.available)
    func issueValidateRevoke(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let issued = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "admin", password: TestCloud.adminPassword))
            #expect(issued.status == .created)
            let token = try #require(issued.header("X-Subject-Token"))
            let body = try #require(issued["token"])
            #expect(body["project"]?["name"] == "admin")
            #expect(body["user"]?["domain"]?["id"] == "default")
            #expect(Set(body["roles"]?.array.compactMap { $0["name"]?.stringValue } ?? []) == ["admin", "member", "reader"])
            #expect(body["catalog"]?.array.first?["type"] == "identity")
            #expect(body["methods"] == ["password"])
            #expect(issued.header("x-openstack-request-id")?.hasPrefix("req-") == true)

            let validated = try await c.call(.get, "/identity/v3/auth/tokens?nocatalog", token: token, headers: ["X-Subject-Token": token])
            #expect(validated.status == .ok)
            #expect(validated["token"]?["catalog"] == nil)
            #expect(validated["token"]?["audit_ids"] == body["audit_ids"])
            #expect(try await c.call(.head, "/identity/v3/auth/tokens", token: token, headers: ["X-Subject-Token": token]).status == .ok)

            let other = try await c.token()
            #expect(try await c.call(.delete, "/identity/v3/auth/tokens", token: other, headers: ["X-Subject-Token": token]).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: other, headers: ["X-Subject-Token": token]).status == .notFound)
            let rejected = try await c.call(.get, "/identity/v3/users", token: token)
            #expect(rejected.status == .unauthorized)
            #expect(rejected.header("WWW-Authenticate")?.contains("Keystone uri=") == true)
            #expect(rejected["error"]?["code"] == 401)
        }
    }

    @Test func scopesAndRescoping() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let unscoped = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "admin", password: TestCloud.adminPassword, project: nil))
            #expect(unscoped.status == .created)
            #expect(unscoped["token"]?["project"] == nil && unscoped["token"]?["roles"] == nil && unscoped["token"]?["catalog"] == nil)
            let parent = try #require(unscoped.header("X-Subject-Token"))

            let system = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(parent)]], "scope": ["system": ["all": true]]]])
            #expect(system.status == .created)
            #expect(system["token"]?["system"] == ["all": true])
            #expect(system["token"]?["methods"] == ["password", "token"])
            #expect(system["token"]?["expires_at"] == unscoped["token"]?["expires_at"])
            #expect(system["token"]?["audit_ids"]?.array.last == unscoped["token"]?["audit_ids"]?.array.first)

            let domain = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(parent)]], "scope": ["domain": ["name": "Default"]]]])
            // admin holds no role on the domain itself
            #expect(domain.status == .unauthorized)

            let admin = try await c.token()
            let adminID = try #require(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": admin])["token"]?["user"]?["id"]?.stringValue)
            let reader = try await c.call(.get, "/identity/v3/roles?name=reader", token: admin)["roles"]?.array.first?["id"]?.stringValue
            #expect(try await c.call(.put, "/identity/v3/domains/default/users/\(adminID)/roles/\(reader!)", token: admin).status == .noContent)
            let domain2 = try await c.call(.post, "/identity/v3/auth/tokens?nocatalog", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(parent)]], "scope": ["domain": ["id": "default"]]]])
            #expect(domain2.status == .created)
            #expect(domain2["token"]?["domain"]?["name"] == "Default")
            #expect(domain2["token"]?["catalog"] == nil)

            let projects = try await c.call(.get, "/identity/v3/auth/projects", token: parent)
            #expect(projects["projects"]?.array.map { $0["name"] } == ["admin"])
            #expect(try await c.call(.get, "/identity/v3/auth/system", token: parent)["system"] == [["all": true]])
            #expect(try await c.call(.get, "/identity/v3/auth/catalog", token: parent).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/auth/catalog", token: admin)["catalog"]?.array.count == 1)
        }
    }

    @Test func badCredentialsAndMalformedRequests() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let wrong = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "admin", password: "nope"))
            #expect(wrong.status == .unauthorized)
            #expect(wrong["error"]?["title"] == "Unauthorized")
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "ghost", password: "x")).status == .unauthorized)
            let noIdentity = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [:]])
            #expect(noIdentity.status == .badRequest)
            #expect(noIdentity["error"]?["message"]?.stringValue?.contains("auth.identity") == true)
            let badMethod = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": ["methods": ["totp"]]]])
            #expect(badMethod.status == .unauthorized)
            let badScope = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["password"], "password": ["user": ["name": "admin", "domain": ["id": "default"], "password": .string(TestCloud.adminPassword)]]],
                "scope": ["galaxy": ["id": "x"]]]])
            #expect(badScope.status == .badRequest)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", raw: Array("{\"auth\": ".utf8)).status == .badRequest)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", raw: [0x7B, 0xFF, 0xFE, 0x7D]).status == .badRequest)
            let huge = try await c.call(.post, "/identity/v3/auth/tokens", raw: Array(repeating: 0x20, count: 2 << 20))
            #expect(huge.status == .contentTooLarge)
            #expect(huge["error"]?["code"] == 413)
            // Tampered and garbage tokens are rejected, never a 500.
            let token = try await c.token()
            var bytes = Array(token.utf8)
            bytes[bytes.count / 2] = bytes[bytes.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            for bad in [String(decoding: bytes, as: UTF8.self), "garbage", String(repeating: "x", count: 5000), "AQAAAAE"] {
                #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: token, headers: ["X-Subject-Token": bad]).status == .notFound)
                #expect(try await c.call(.get, "/identity/v3/projects", token: bad).status == .unauthorized)
            }
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: token).status == .badRequest)
        }
    }

    @Test func expiredTokensAreRefused() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        let admin = try await cloud.serve { try await $0.token() }
        let valid = try await cloud.identity.tokens.validated(admin)
        var payload = valid.payload
        payload.expiresAt = Date().timeIntervalSince1970 - 1
        let expired = try cloud.identity.tokens.codec.seal(payload)
        await #expect(throws: APIError.self) { try await cloud.identity.tokens.validated(expired) }
    }

    @Test func keyRotationKeepsRecentTokensAndRetiresOldOnes() async throws {
        let cloud = try await TestCloud.make { $0.maxActiveKeys = 2 }
        defer { Task { await cloud.close() } }
        let before = try await cloud.serve { try await $0.token() }
        _ = try IdentityService.rotateKeys(config: cloud.config)
        let restarted = try cloud.restarted()
        _ = try await restarted.tokens.validated(before)          // the retired key still opens it
        _ = try IdentityService.rotateKeys(config: cloud.config)  // now that key ages out
        let again = try cloud.restarted()
        await #expect(throws: APIError.self) { try await again.tokens.validated(before) }
    }

    @Test func passwordChangeAndDisablingRevokeTokens() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "alice", password: "old-pw")
            let old = try await c.token("alice", "old-pw", project: nil)
            let changed = try await c.call(.post, "/identity/v3/users/\(m.user)/password", token: old,
                                           json: ["user": ["original_password": "old-pw", "password": "new-pw"]])
            #expect(changed.status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": old]).status == .notFound)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "alice", password: "old-pw", project: nil)).status == .unauthorized)
            let fresh = try await c.token("alice", "new-pw", project: nil)
            let wrongOriginal = try await c.call(.post, "/identity/v3/users/\(m.user)/password", token: fresh,
                                                 json: ["user": ["original_password": "bad", "password": "x"]])
            #expect(wrongOriginal.status == .unauthorized)

            #expect(try await c.call(.patch, "/identity/v3/users/\(m.user)", token: admin, json: ["user": ["enabled": false]]).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": fresh]).status == .notFound)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "alice", password: "new-pw", project: nil)).status == .unauthorized)

            // Disabling a project revokes tokens scoped to it.
            let bob = try await c.makeMember(admin: admin, name: "bob", password: "pw")
            let scoped = try await c.token("bob", "pw", project: bob.projectName)
            #expect(try await c.call(.patch, "/identity/v3/projects/\(bob.project)", token: admin, json: ["project": ["enabled": false]]).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": scoped]).status == .notFound)
        }
    }

    @Test func applicationCredentials() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "carol", password: "pw")
            let carol = try await c.token("carol", "pw", project: m.projectName)
            let created = try await c.call(.post, "/identity/v3/users/\(m.user)/application_credentials", token: carol,
                                           json: ["application_credential": ["name": "ci", "description": "for CI"]])
            #expect(created.status == .created)
            let cred = try #require(created["application_credential"])
            let secret = try #require(cred["secret"]?.stringValue)
            #expect(cred["roles"]?.array.compactMap { $0["name"]?.stringValue }.sorted() == ["member", "reader"])

            let byID = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": [
                "methods": ["application_credential"], "application_credential": ["id": cred["id"]!, "secret": .string(secret)]]]])
            #expect(byID.status == .created)
            #expect(byID["token"]?["project"]?["id"] == .string(m.project))
            #expect(byID["token"]?["application_credential"]?["name"] == "ci")
            let byName = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": [
                "methods": ["application_credential"],
                "application_credential": ["name": "ci", "secret": .string(secret), "user": ["name": "carol", "domain": ["name": "Default"]]]]]])
            #expect(byName.status == .created)
            let wrong = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": [
                "methods": ["application_credential"], "application_credential": ["id": cred["id"]!, "secret": "nope"]]]])
            #expect(wrong.status == .unauthorized)

            // Its token cannot be rescoped, and a restricted credential cannot make another.
            let appToken = try #require(byID.header("X-Subject-Token"))
            #expect(try await c.call(.post, "/identity/v3/users/\(m.user)/application_credentials", token: appToken,
                                     json: ["application_credential": ["name": "again"]]).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/users/\(m.user)/application_credentials", token: carol)["application_credentials"]?.array.count == 1)
            #expect(try await c.call(.post, "/identity/v3/users/\(m.user)/application_credentials", token: carol,
                                     json: ["application_credential": ["name": "ci"]]).status == .conflict)
            #expect(try await c.call(.delete, "/identity/v3/users/\(m.user)/application_credentials/\(cred["id"]!.stringValue!)", token: carol).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": appToken]).status == .notFound)
        }
    }

    @Test func restartKeepsTokensAndObjects() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        let (token, projectID) = try await cloud.serve { c -> (String, String) in
            let admin = try await c.token()
            let p = try await c.call(.post, "/identity/v3/projects", token: admin, json: ["project": ["name": "kept"]])
            return (admin, p["project"]!["id"]!.stringValue!)
        }
        try await cloud.serve(try cloud.restarted()) { (c: Client) async throws -> Void in
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: token, headers: ["X-Subject-Token": token]).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/projects/\(projectID)", token: token)["project"]?["name"] == "kept")
        }
    }

    @Test func anotherProcessesRevocationIsSeenWithinTheCacheLifetime() async throws {
        let cloud = try await TestCloud.make { $0.validationCacheSeconds = 1 }
        defer { Task { await cloud.close() } }
        let token = try await cloud.serve { try await $0.token() }
        // A second service over the same database stands for a second API process.
        let other = try cloud.restarted()
        _ = try await other.tokens.validated(token)
        _ = try await cloud.identity.tokens.validated(token)
        let payload = try await cloud.identity.tokens.validated(token).payload
        try await cloud.identity.store.transaction { try await cloud.identity.store.revoke(auditID: payload.auditIDs[0], in: $0) }
        // This process sees its own write at once; the other within its cache lifetime.
        await #expect(throws: APIError.self) { try await cloud.identity.tokens.validated(token) }
        try await Task.sleep(for: .milliseconds(1100))
        await #expect(throws: APIError.self) { try await other.tokens.validated(token) }
    }
}
