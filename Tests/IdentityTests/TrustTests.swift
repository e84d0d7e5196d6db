import Foundation
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

/// OS-TRUST: trusts, their roles, and the trust-scoped tokens their trustees get.
@Suite struct TrustTests {
    /// A trustor with two roles on its project (one to delegate, one not), a trustee and a bystander.
    struct World {
        var admin: String
        var trustor: String
        var trustorID: String
        var trusteeID: String
        var strangerID: String
        var project: String
        var delegated: String
        var kept: String
    }

    static func world(_ c: Client) async throws -> World {
        let admin = try await c.token()
        let m = try await c.makeMember(admin: admin, name: "trustor", password: "pw")
        let delegated = try await InheritTests.create(c, admin, "roles", "role", ["name": "delegated"])
        let kept = try await InheritTests.create(c, admin, "roles", "role", ["name": "kept"])
        for role in [delegated, kept] {
            _ = try await c.call(.put, "/identity/v3/projects/\(m.project)/users/\(m.user)/roles/\(role)", token: admin)
        }
        let trustee = try await InheritTests.create(c, admin, "users", "user", ["name": "trustee", "password": "pw"])
        let stranger = try await InheritTests.create(c, admin, "users", "user", ["name": "stranger", "password": "pw"])
        let trustor = try await c.token("trustor", "pw", project: m.projectName)
        return World(admin: admin, trustor: trustor, trustorID: m.user, trusteeID: trustee, strangerID: stranger,
                     project: m.project, delegated: delegated, kept: kept)
    }

    static func trustBody(_ w: World, impersonation: Bool = true, roles: JSON = [["name": "delegated"]], extra: [String: JSON] = [:]) -> JSON {
        ["trust": JSON.object([
            "trustor_user_id": .string(w.trustorID), "trustee_user_id": .string(w.trusteeID), "project_id": .string(w.project),
            "impersonation": .bool(impersonation), "roles": roles,
        ]).merging(extra)]
    }

    /// A trust-scoped token request by password.
    static func trustAuth(user: String, trust: String) -> JSON {
        ["auth": [
            "identity": ["methods": ["password"], "password": ["user": ["name": .string(user), "domain": ["id": "default"], "password": "pw"]]],
            "scope": ["OS-TRUST:trust": ["id": .string(trust)]],
        ]]
    }

    static func validate(_ c: Client, _ w: World, _ token: String) async throws -> Reply {
        try await c.call(.get, "/identity/v3/auth/tokens", token: w.admin, headers: ["X-Subject-Token": token])
    }

    @Test(arguments: TestBackend.available)
    func trustsAndTheirRoles(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let w = try await Self.world(c)
            let created = try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor, json: Self.trustBody(w, extra: ["note": "kept"]))
            #expect(created.status == .created)
            let trust = try #require(created["trust"])
            let id = try #require(trust["id"]?.stringValue)
            #expect(trust["trustor_user_id"] == .string(w.trustorID) && trust["trustee_user_id"] == .string(w.trusteeID))
            #expect(trust["project_id"] == .string(w.project) && trust["impersonation"] == true)
            #expect(trust["expires_at"] == .null && trust["remaining_uses"] == .null && trust["deleted_at"] == .null)
            #expect(trust["redelegated_trust_id"] == .null && trust["redelegation_count"] == 0)
            #expect(trust["roles"]?.array.map { $0["name"] } == ["delegated"])
            #expect(trust["roles"]?.array.first?["links"]?["self"]?.stringValue?.hasSuffix("v3/roles/\(w.delegated)") == true)
            #expect(trust["links"]?["self"]?.stringValue?.hasSuffix("v3/OS-TRUST/trusts/\(id)") == true)
            #expect(trust["roles_links"]?["self"]?.stringValue?.hasSuffix("v3/OS-TRUST/trusts/\(id)/roles") == true)
            #expect(trust["note"] == "kept" && trust["allow_redelegation"] == nil)

            let shown = try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor)
            #expect(shown["trust"]?["roles"] == trust["roles"] && shown["trust"]?["id"] == .string(id))
            #expect(try await c.call(.head, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor).status == .ok)
            let roles = try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)/roles", token: w.trustor)
            #expect(roles["roles"]?.array.map { $0["id"] } == [.string(w.delegated)])
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)/roles/\(w.delegated)", token: w.trustor)["role"]?["name"] == "delegated")
            #expect(try await c.call(.head, "/identity/v3/OS-TRUST/trusts/\(id)/roles/\(w.delegated)", token: w.trustor).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)/roles/\(w.kept)", token: w.trustor).status == .notFound)
            #expect(try await c.call(.head, "/identity/v3/OS-TRUST/trusts/\(id)/roles/\(w.kept)", token: w.trustor).status == .notFound)

            // Lists: the trustor's and the trustee's own, everything for the admin only.
            let mine = try await c.call(.get, "/identity/v3/OS-TRUST/trusts/?trustor_user_id=\(w.trustorID)", token: w.trustor)
            #expect(mine.status == .ok)
            #expect(mine["trusts"]?.array.map { $0["id"] } == [.string(id)])
            #expect(mine["trusts"]?.array.first?["roles"] == nil)
            let trusteeToken = try await c.token("trustee", "pw", project: nil)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts?trustee_user_id=\(w.trusteeID)", token: trusteeToken)["trusts"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts?trustor_user_id=\(w.trustorID)", token: trusteeToken).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts", token: w.trustor).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts", token: w.admin)["trusts"]?.array.contains { $0["id"] == .string(id) } == true)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: trusteeToken).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.admin).status == .ok)
            let stranger = try await c.token("stranger", "pw", project: nil)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: stranger).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)/roles", token: stranger).status == .forbidden)
            #expect(try await c.call(.delete, "/identity/v3/OS-TRUST/trusts/\(id)", token: trusteeToken).status == .forbidden)

            // An expiring trust shows its time with microseconds, as Keystone does.
            let expiring = try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor,
                                            json: Self.trustBody(w, roles: [["id": .string(w.delegated)]], extra: ["expires_at": "2099-02-17T17:34:01Z"]))
            #expect(expiring.status == .created)
            #expect(expiring["trust"]?["expires_at"] == "2099-02-17T17:34:01.000000Z")
            let again = try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor,
                                         json: Self.trustBody(w, roles: [["id": .string(w.delegated)]], extra: ["expires_at": "2099-02-17T17:34:01Z"]))
            #expect(again.status == .conflict)

            #expect(try await c.call(.delete, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor).status == .notFound)
            #expect(try await c.call(.delete, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor).status == .notFound)
            // Deleting the trustee takes its trusts away.
            #expect(try await c.call(.delete, "/identity/v3/users/\(w.trusteeID)", token: w.admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts", token: w.admin)["trusts"]?.array.count == 0)
        }
    }

    @Test func refusedTrusts() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let w = try await Self.world(c)
            let unknown = "0123456789abcdef0123456789abcdef"
            func post(_ body: JSON, token: String? = nil) async throws -> Reply {
                try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: token ?? w.trustor, json: body)
            }
            func status(_ extra: [String: JSON], roles: JSON = [["name": "delegated"]]) async throws -> Int {
                try await post(Self.trustBody(w, roles: roles, extra: extra)).status.code
            }
            #expect(try await status(["expires_at": "bad.123Z"]) == 400)
            #expect(try await status(["expires_at": "2001-01-01T00:00:00Z"]) == 400)
            #expect(try await status(["impersonation": "yes"]) == 400)
            #expect(try await status(["remaining_uses": 0]) == 400)
            #expect(try await status(["remaining_uses": 2, "allow_redelegation": true]) == 400)
            #expect(try await status(["redelegation_count": 4, "allow_redelegation": true]) == 403)
            #expect(try await status([:], roles: [["id": .string(w.delegated), "name": "delegated"]]) == 400)
            #expect(try await status([:], roles: [["id": "not an id!"]]) == 400)
            #expect(try await status([:], roles: []) == 403)
            #expect(try await status([:], roles: [["name": "no-such-role"]]) == 404)
            #expect(try await status([:], roles: [["name": "admin"]]) == 404)
            #expect(try await status(["trustee_user_id": .string(unknown)]) == 404)
            #expect(try await status(["project_id": .string(unknown)]) == 404)
            #expect(try await status(["trustor_user_id": .string(w.strangerID)]) == 403)
            #expect(try await post(["trust": ["trustor_user_id": .string(w.trustorID), "trustee_user_id": .string(w.trusteeID)]]).status == .badRequest)
            #expect(try await post(["trust": "x"]).status == .badRequest)
            // The admin cannot make a trust for someone else either.
            #expect(try await post(Self.trustBody(w), token: w.admin).status == .forbidden)
            // A trust without a project delegates no role.
            let unscoped = try await post(["trust": ["trustor_user_id": .string(w.trustorID), "trustee_user_id": .string(w.trusteeID), "impersonation": false]])
            #expect(unscoped.status == .created)
            #expect(unscoped["trust"]?["project_id"] == .null && unscoped["trust"]?["roles"] == [])

            // Application credentials keep away from trusts.
            let cred = try await c.call(.post, "/identity/v3/users/\(w.trustorID)/application_credentials", token: w.trustor,
                                        json: ["application_credential": ["name": "ci"]])
            let appToken = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": [
                "methods": ["application_credential"],
                "application_credential": ["id": cred["application_credential"]!["id"]!, "secret": cred["application_credential"]!["secret"]!]]]])
            let app = try #require(appToken.header("X-Subject-Token"))
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts?trustor_user_id=\(w.trustorID)", token: app).status == .forbidden)
            #expect(try await post(Self.trustBody(w), token: app).status == .forbidden)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["application_credential"],
                             "application_credential": ["id": cred["application_credential"]!["id"]!, "secret": cred["application_credential"]!["secret"]!]],
                "scope": ["OS-TRUST:trust": ["id": unscoped["trust"]!["id"]!]]]]).status == .forbidden)
        }
    }

    @Test(arguments: TestBackend.available)
    func trustScopedTokens(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let w = try await Self.world(c)
            let trust = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor, json: Self.trustBody(w))["trust"]?["id"]?.stringValue)

            // Impersonating: the trustee authenticates, the token stands for the trustor.
            let issued = try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: trust))
            #expect(issued.status == .created)
            let body = try #require(issued["token"])
            #expect(body["OS-TRUST:trust"] == ["id": .string(trust), "trustor_user": ["id": .string(w.trustorID)],
                                               "trustee_user": ["id": .string(w.trusteeID)], "impersonation": true])
            #expect(body["user"]?["id"] == .string(w.trustorID) && body["user"]?["name"] == "trustor")
            #expect(body["project"]?["id"] == .string(w.project))
            #expect(InheritTests.roleNames(issued) == ["delegated"])
            #expect(body["catalog"]?.array.isEmpty == false)
            let token = try #require(issued.header("X-Subject-Token"))
            let validated = try await Self.validate(c, w, token)
            #expect(validated.status == .ok)
            #expect(validated["token"]?["OS-TRUST:trust"] == body["OS-TRUST:trust"] && validated["token"]?["roles"] == body["roles"])
            #expect(try await c.call(.get, "/identity/v3/projects/\(w.project)", token: token).status == .ok)
            #expect(try await cloud.identity.tokens.validated(token).auth.userID == w.trustorID)
            // Acting as the trustor, the trustee still makes no credential that would outlive the trust.
            let appCreds = "/identity/v3/users/\(w.trustorID)/application_credentials"
            #expect(try await c.call(.post, appCreds, token: token, json: ["application_credential": ["name": "backdoor"]]).status == .forbidden)
            #expect(try await c.call(.get, appCreds, token: token).status == .forbidden)
            #expect(try await c.call(.post, "/identity/v3/users/\(w.trustorID)/credentials/OS-EC2", token: token,
                                     json: ["tenant_id": .string(w.project)]).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/credentials", token: token).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/users/\(w.trustorID)/access_rules", token: token).status == .forbidden)

            // From an unscoped token of the trustee too; never from a trust-scoped one, nor by anyone else.
            let unscoped = try await c.token("trustee", "pw", project: nil)
            let byToken = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(unscoped)]], "scope": ["OS-TRUST:trust": ["id": .string(trust)]]]])
            #expect(byToken.status == .created)
            #expect(byToken["token"]?["methods"] == ["password", "token"])
            let rescope = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(token)]], "scope": ["project": ["id": .string(w.project)]]]])
            #expect(rescope.status == .forbidden)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "stranger", trust: trust)).status == .forbidden)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: "nope")).status == .unauthorized)
            let both = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(unscoped)]],
                "scope": ["OS-TRUST:trust": ["id": .string(trust)], "project": ["id": .string(w.project)]]]])
            #expect(both.status == .badRequest)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["token"], "token": ["id": .string(unscoped)]], "scope": ["OS-TRUST:trust": [:]]]]).status == .badRequest)

            // Without impersonation the token is the trustee's.
            let plain = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor,
                                                      json: Self.trustBody(w, impersonation: false))["trust"]?["id"]?.stringValue)
            let plainToken = try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: plain))
            #expect(plainToken["token"]?["user"]?["id"] == .string(w.trusteeID))
            #expect(plainToken["token"]?["OS-TRUST:trust"]?["impersonation"] == false)

            // The trustor losing the role ends the trust's tokens, issued or not.
            #expect(try await c.call(.delete, "/identity/v3/projects/\(w.project)/users/\(w.trustorID)/roles/\(w.delegated)", token: w.admin).status == .noContent)
            #expect(try await Self.validate(c, w, token).status == .notFound)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: trust)).status == .forbidden)
            #expect(try await c.call(.put, "/identity/v3/projects/\(w.project)/users/\(w.trustorID)/roles/\(w.delegated)", token: w.admin).status == .noContent)
            #expect(try await Self.validate(c, w, token).status == .ok)

            // So does deleting the trust, and the trustor's new password.
            #expect(try await c.call(.delete, "/identity/v3/OS-TRUST/trusts/\(plain)", token: w.trustor).status == .noContent)
            #expect(try await Self.validate(c, w, try #require(plainToken.header("X-Subject-Token"))).status == .notFound)
            let changed = try await c.call(.post, "/identity/v3/users/\(w.trustorID)/password", token: w.admin,
                                           json: ["user": ["original_password": "pw", "password": "pw2"]])
            #expect(changed.status == .noContent)
            #expect(try await Self.validate(c, w, token).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func useLimitsAndExpiry(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let w = try await Self.world(c)
            let limited = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor,
                                                        json: Self.trustBody(w, extra: ["remaining_uses": 2]))["trust"])
            #expect(limited["remaining_uses"] == 2)
            let id = try #require(limited["id"]?.stringValue)
            let first = try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: id))
            #expect(first.status == .created)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor)["trust"]?["remaining_uses"] == 1)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: id)).status == .created)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: id)).status == .unauthorized)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(id)", token: w.trustor).status == .notFound)
            // Tokens already issued stay good: the uses count issues.
            #expect(try await Self.validate(c, w, try #require(first.header("X-Subject-Token"))).status == .ok)

            // A token lasts no longer than its trust, and stops when the trust expires.
            let soon = Date().addingTimeInterval(600)
            let expiring = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor, json: Self.trustBody(w, extra: [
                "expires_at": .string(Timestamp.microseconds(soon))]))["trust"]?["id"]?.stringValue)
            let issued = try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: expiring))
            let expiresAt = try #require(issued["token"]?["expires_at"]?.stringValue.flatMap(Timestamp.parse))
            #expect(abs(expiresAt.timeIntervalSince(soon)) < 0.01)
            #expect(try await Self.validate(c, w, try #require(issued.header("X-Subject-Token"))).status == .ok)

            let brief = Date().addingTimeInterval(10) // room for a loaded machine between the issue and the first validation
            let short = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor, json: Self.trustBody(w, extra: [
                "expires_at": .string(Timestamp.microseconds(brief))]))["trust"]?["id"]?.stringValue)
            let token = try #require(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: short)).header("X-Subject-Token"))
            #expect(try await Self.validate(c, w, token).status == .ok)
            try await Task.sleep(for: .seconds(brief.timeIntervalSinceNow + 0.1))
            #expect(try await Self.validate(c, w, token).status == .notFound)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: short)).status == .unauthorized)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(short)", token: w.trustor).status == .notFound)
        }
    }

    @Test func redelegation() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let w = try await Self.world(c)
            let first = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor,
                                                      json: Self.trustBody(w, extra: ["allow_redelegation": true]))["trust"])
            #expect(first["redelegation_count"] == 3)
            let firstID = try #require(first["id"]?.stringValue)
            let token = try #require(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: firstID)).header("X-Subject-Token"))

            // The trustee, acting as the trustor, passes the trust on to a third user.
            func redelegate(_ extra: [String: JSON], roles: JSON = [["name": "delegated"]]) async throws -> Reply {
                var fields: [String: JSON] = ["trustee_user_id": .string(w.strangerID), "allow_redelegation": true]
                fields.merge(extra) { $1 }
                return try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: token, json: Self.trustBody(w, roles: roles, extra: fields))
            }
            #expect(try await redelegate(["remaining_uses": 1, "allow_redelegation": false]).status == .forbidden)
            #expect(try await redelegate([:], roles: [["name": "kept"]]).status == .forbidden)
            #expect(try await redelegate(["redelegation_count": 1]).status == .forbidden)
            let second = try await redelegate([:])
            #expect(second.status == .created)
            #expect(second["trust"]?["redelegated_trust_id"] == .string(firstID))
            #expect(second["trust"]?["redelegation_count"] == 2)
            let secondID = try #require(second["trust"]?["id"]?.stringValue)
            let third = try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "stranger", trust: secondID))
            #expect(third.status == .created)
            #expect(InheritTests.roleNames(third) == ["delegated"])

            // A trust that may not be redelegated cannot be.
            let terminal = try #require(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: w.trustor,
                                                         json: Self.trustBody(w, extra: ["expires_at": "2099-01-01T00:00:00Z"]))["trust"]?["id"]?.stringValue)
            let terminalToken = try #require(try await c.call(.post, "/identity/v3/auth/tokens", json: Self.trustAuth(user: "trustee", trust: terminal)).header("X-Subject-Token"))
            #expect(try await c.call(.post, "/identity/v3/OS-TRUST/trusts", token: terminalToken, json: Self.trustBody(w, extra: [
                "trustee_user_id": .string(w.strangerID)])).status == .forbidden)

            // Deleting a trust deletes those made from it, and their tokens stop.
            #expect(try await c.call(.delete, "/identity/v3/OS-TRUST/trusts/\(firstID)", token: w.trustor).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/OS-TRUST/trusts/\(secondID)", token: w.admin).status == .notFound)
            #expect(try await Self.validate(c, w, try #require(third.header("X-Subject-Token"))).status == .notFound)
        }
    }
}
