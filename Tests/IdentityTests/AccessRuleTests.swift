import Foundation
import Hummingbird
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

/// Application credential access rules: stored, listed, deleted, and enforced on every service.
@Suite struct AccessRuleTests {
    /// A stand-in for another API behind the same listener, to see rules checked outside Identity.
    struct FakeCompute: APIService {
        struct Faults: JSONFaultFormat {
            func render(_ error: APIError) -> JSON { ["error": .string(error.message)] }
        }
        let pathPrefix = "compute"
        let catalogType = "compute"
        let catalogName = "nova"
        var faultFormat: any FaultFormat { Faults() }

        func addRoutes(to group: RouterGroup<MartletContext>) {
            for path in ["/v2.1/servers", "/v2.1/servers/:id", "/v2.1/servers/:id/ips", "/v2.1/flavors"] {
                for method in [HTTPRequest.Method.get, .delete] {
                    group.on(RouterPath(path), method: method) { _, context -> Response in
                        _ = try context.requireAuth()
                        return .json(.ok, ["ok": true])
                    }
                }
            }
        }
    }

    @Test func pathPatterns() {
        let cases: [(String, String, Bool)] = [
            ("/v2.1/servers", "/v2.1/servers", true),
            ("/v2.1/servers", "/v2.1/servers/x", false),
            ("/v2.1/servers/*/ips", "/v2.1/servers/abc/ips", true),
            ("/v2.1/servers/*/ips", "/v2.1/servers/a/b/ips", false),
            ("/v2.1/servers/*/ips", "/v2.1/servers//ips", false),
            ("/v2.1/servers/{server_id}/ips", "/v2.1/servers/abc/ips", true),
            ("/v2.1/**", "/v2.1/", true),
            ("/v2.1/**", "/v2.1/servers/abc/ips", true),
            ("/v2.1/**", "/v2.2/servers", false),
            ("/v2.1/servers/*", "/v2.1/servers/", false),
            ("/**/ips", "/v2.1/servers/abc/ips", true),
            ("/v2.1/servers.json", "/v2.1/serversXjson", false),
        ]
        for (pattern, path, expected) in cases {
            #expect(AccessRuleLimits.matches(path, pattern: pattern) == expected, "\(pattern) ~ \(path)")
        }
    }

    @Test(arguments: TestBackend.available)
    func rulesAreStoredSharedAndDeletable(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "ada", password: "pw")
            let ada = try await c.token("ada", "pw", project: m.projectName)
            let creds = "/identity/v3/users/\(m.user)/application_credentials"
            let rules = "/identity/v3/users/\(m.user)/access_rules"
            let serversRule: JSON = ["service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"]
            let first = try await c.call(.post, creds, token: ada, json: ["application_credential": ["name": "one", "access_rules": [
                serversRule, ["service": "identity", "method": "GET", "path": "/v3/users/**"],
            ]]])
            #expect(first.status == .created)
            let firstRules = first["application_credential"]?["access_rules"]?.array ?? []
            #expect(firstRules.count == 2 && firstRules.allSatisfy { $0["id"]?.stringValue?.isEmpty == false })
            let serversID = try #require(firstRules.first { $0["service"] == "compute" }?["id"]?.stringValue)
            let usersID = try #require(firstRules.first { $0["service"] == "identity" }?["id"]?.stringValue)
            let firstID = try #require(first["application_credential"]?["id"]?.stringValue)
            #expect(try await c.call(.get, "\(creds)/\(firstID)", token: ada)["application_credential"]?["access_rules"]?.array.count == 2)

            // An identical rule is reused, and one can be named by its ID.
            let second = try await c.call(.post, creds, token: ada, json: ["application_credential": ["name": "two", "access_rules": [serversRule]]])
            #expect(second["application_credential"]?["access_rules"]?.array.first?["id"] == .string(serversID))
            let third = try await c.call(.post, creds, token: ada, json: ["application_credential": ["name": "three", "access_rules": [["id": .string(usersID)]]]])
            #expect(third["application_credential"]?["access_rules"]?.array.first?["path"] == "/v3/users/**")
            let thirdID = try #require(third["application_credential"]?["id"]?.stringValue)
            let listed = try await c.call(.get, rules, token: ada)
            #expect(Set(listed["access_rules"]?.array.compactMap { $0["id"]?.stringValue } ?? []) == [serversID, usersID])
            #expect(try await c.call(.get, "\(rules)?service=compute", token: ada)["access_rules"]?.array.count == 1)
            let shown = try await c.call(.get, "\(rules)/\(serversID)", token: ada)["access_rule"]
            #expect(shown?["path"] == "/v2.1/servers/*/ips" && shown?["method"] == "GET" && shown?["service"] == "compute")
            #expect(shown?["links"]?["self"]?.stringValue?.hasSuffix("/users/\(m.user)/access_rules/\(serversID)") == true)

            let invalid: [JSON] = [
                ["service": "compute", "method": "FETCH", "path": "/v2.1/servers"],
                ["service": "compute", "method": "GET", "path": "v2.1/servers"],
                ["service": "com pute", "method": "GET", "path": "/v2.1/servers"],
                ["service": "compute", "method": "GET"],
                ["id": "unknown-rule"],
                "GET /v2.1/servers",
            ]
            for (i, rule) in invalid.enumerated() {
                let reply = try await c.call(.post, creds, token: ada, json: ["application_credential": ["name": .string("bad\(i)"), "access_rules": [rule]]])
                #expect(reply.status == .badRequest, "\(rule.text): \(reply.status)")
            }

            // Someone else's rules are not found through another user, nor visible to a member.
            let other = try await c.makeMember(admin: admin, name: "bob", password: "pw")
            let bob = try await c.token("bob", "pw", project: other.projectName)
            #expect(try await c.call(.get, "/identity/v3/users/\(other.user)/access_rules/\(serversID)", token: admin).status == .notFound)
            #expect(try await c.call(.get, rules, token: bob).status == .forbidden)
            #expect(try await c.call(.delete, "\(rules)/\(serversID)", token: bob).status == .forbidden)
            #expect(try await c.call(.get, rules, token: admin)["access_rules"]?.array.count == 2)
            #expect(try await c.call(.post, "/identity/v3/users/\(other.user)/application_credentials", token: bob,
                                     json: ["application_credential": ["name": "b", "access_rules": [["id": .string(serversID)]]]]).status == .badRequest)

            // A rule in use stays; once no credential uses it, it can go.
            #expect(try await c.call(.delete, "\(rules)/\(serversID)", token: ada).status == .forbidden)
            #expect(try await c.call(.delete, "\(creds)/\(firstID)", token: ada).status == .noContent)
            #expect(try await c.call(.get, rules, token: ada)["access_rules"]?.array.count == 2)
            #expect(try await c.call(.delete, "\(rules)/\(usersID)", token: ada).status == .forbidden)
            #expect(try await c.call(.delete, "\(creds)/\(thirdID)", token: ada).status == .noContent)
            #expect(try await c.call(.delete, "\(rules)/\(usersID)", token: ada).status == .noContent)
            #expect(try await c.call(.delete, "\(rules)/\(usersID)", token: ada).status == .notFound)
            #expect(try await c.call(.get, rules, token: ada)["access_rules"]?.array.map { $0["id"] } == [.string(serversID)])
        }
    }

    @Test(arguments: TestBackend.available)
    func aRuleLimitedTokenIsRefusedOutsideItsRules(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend, services: { _, _, _ in [FakeCompute()] })
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "cy", password: "pw")
            let cy = try await c.token("cy", "pw", project: m.projectName)
            let made = try await c.call(.post, "/identity/v3/users/\(m.user)/application_credentials", token: cy, json: ["application_credential": [
                "name": "ci", "access_rules": [
                    ["service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"],
                    ["service": "compute", "method": "GET", "path": "/v2.1/servers"],
                    ["service": "identity", "method": "GET", "path": "/v3/users/*"],
                ]]])
            let credential = try #require(made["application_credential"])
            let issued = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": [
                "methods": ["application_credential"],
                "application_credential": ["id": credential["id"]!, "secret": credential["secret"]!]]]])
            #expect(issued.status == .created)
            #expect(issued["token"]?["application_credential"]?["access_rules"]?.array.count == 3)
            let limited = try #require(issued.header("X-Subject-Token"))

            // Inside its rules, on either service.
            #expect(try await c.call(.get, "/compute/v2.1/servers", token: limited).status == .ok)
            #expect(try await c.call(.get, "/compute/v2.1/servers/abc/ips", token: limited).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/users/\(m.user)", token: limited).status == .ok)

            // Outside: another path, another method, another service, another depth.
            for (method, path) in [(HTTPRequest.Method.get, "/compute/v2.1/flavors"), (.delete, "/compute/v2.1/servers/abc"),
                                   (.get, "/compute/v2.1/servers/abc"), (.get, "/identity/v3/projects"),
                                   (.get, "/identity/v3/users/\(m.user)/projects"), (.get, "/identity/v3/auth/catalog")] {
                let refused = try await c.call(method, path, token: limited)
                #expect(refused.status == .unauthorized, "\(method) \(path): \(refused.status)")
            }
            #expect(try await c.call(.get, "/identity/v3/projects", token: limited).header("WWW-Authenticate")?.contains("Keystone") == true)

            // Validating a token is always allowed; Keystone hands such a token only to validators that enforce rules.
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: limited,
                                     headers: ["X-Subject-Token": limited, "OpenStack-Identity-Access-Rules": "1.0"]).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": limited]).status == .notFound)

            // Tokens without rules are not limited.
            #expect(try await c.call(.get, "/compute/v2.1/flavors", token: cy).status == .ok)
            let plain = try await c.call(.post, "/identity/v3/users/\(m.user)/application_credentials", token: cy, json: ["application_credential": ["name": "plain"]])
            let plainToken = try #require(try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": ["identity": [
                "methods": ["application_credential"],
                "application_credential": ["id": plain["application_credential"]!["id"]!, "secret": plain["application_credential"]!["secret"]!]]]])
                .header("X-Subject-Token"))
            #expect(try await c.call(.delete, "/compute/v2.1/servers/abc", token: plainToken).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": plainToken]).status == .ok)
        }
    }
}
