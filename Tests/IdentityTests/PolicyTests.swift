import Foundation
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

/// Every route, one by one: it names a rule of the policy table, refuses callers without a token,
/// refuses a project member where the rule says no, and lets the admin through.
@Suite struct PolicyTests {
    static let publicRoutes: Set<String> = ["POST /v3/auth/tokens"]
    /// The only rules a project member passes for someone else's resources, written out here
    /// rather than read from the table so that loosening the table fails this test.
    static let openToMembers: Set<String> = [
        "identity:get_auth_catalog", "identity:get_auth_projects", "identity:get_auth_domains", "identity:get_auth_system",
        "identity:list_credentials", "identity:list_regions", "identity:get_region",
        // Unified limits: Keystone lets anyone read registered limits and list limits (filtered to the caller's scope).
        "identity:get_limit_model", "identity:list_registered_limits", "identity:get_registered_limit", "identity:list_limits",
    ]
    /// Rules that admit only the owner, admins included (as in Keystone).
    static let ownerOnly: Set<String> = ["identity:create_application_credential", "identity:create_trust"]
    /// Bodies for routes whose target is named in the body rather than the path.
    static let bodies: [String: JSON] = [
        "POST /v3/credentials": ["credential": ["user_id": "0123456789abcdef0123456789abcdef", "type": "cert", "blob": "x"]],
        "POST /v3/OS-TRUST/trusts": ["trust": ["trustor_user_id": "0123456789abcdef0123456789abcdef",
                                               "trustee_user_id": "0123456789abcdef0123456789abcdef", "impersonation": false]],
    ]

    @Test func everyRouteIsGuardedByARuleOfTheTable() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { _ in }
        let routes = cloud.identity.routes
        #expect(routes.count > 100)
        for route in routes {
            let key = "\(route.method) \(route.path)"
            if Self.publicRoutes.contains(key) {
                #expect(route.rule == nil, "\(key) should be public")
            } else {
                let rule = try #require(route.rule, "\(key) has no policy rule")
                #expect(IdentityPolicy.table.rules[rule] != nil, "\(key) names unknown rule \(rule)")
            }
        }
    }

    @Test func routeByRouteAllowAndDeny() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let routes = cloud.identity.routes
            #expect(routes.count > 100)
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "mallory", password: "pw")
            let member = try await c.token("mallory", "pw", project: m.projectName)
            let memberAuth = try await cloud.identity.tokens.validated(member).auth
            for route in routes where route.rule != nil {
                let unknown = "0123456789abcdef0123456789abcdef"
                let path = "/identity/" + route.path.split(separator: "/").map { part in
                    guard part.hasPrefix(":") else { return String(part) }
                    return unknown
                }.joined(separator: "/")
                let label = "\(route.method) \(route.path)"
                let body: JSON? = Self.bodies[label] ?? ([.post, .put, .patch].contains(route.method) ? [:] : nil)

                let anonymous = try await c.call(route.method, path, json: body)
                #expect(anonymous.status == .unauthorized, "\(label) without a token answered \(anonymous.status)")

                // The admin's subject is a throwaway token, since one of these routes revokes it.
                let subject = try await c.token("mallory", "pw", project: m.projectName)
                let asAdmin = try await c.call(route.method, path, token: admin, json: body, headers: ["X-Subject-Token": subject])
                if Self.ownerOnly.contains(route.rule!) {
                    #expect(asAdmin.status == .forbidden, "\(label) let the admin act for another user")
                } else {
                    #expect(asAdmin.status != .forbidden && asAdmin.status != .unauthorized && asAdmin.status.code < 500,
                            "\(label) refused the admin: \(asAdmin.status) \(asAdmin.body?.text ?? "")")
                }

                // A member acting on a target that is not theirs must not get through.
                let target = ["user_id": unknown, "project_id": unknown, "domain_id": unknown, "owner_id": unknown]
                let allowed = IdentityPolicy.table.allows(route.rule!, PolicyRequest(auth: memberAuth, target: target))
                #expect(allowed == Self.openToMembers.contains(route.rule!), "\(label): rule \(route.rule!) lets members through: \(allowed)")
                if !Self.openToMembers.contains(route.rule!) {
                    let asMember = try await c.call(route.method, path, token: member, json: body, headers: ["X-Subject-Token": admin])
                    #expect(asMember.status == .forbidden || asMember.status == .notFound,
                            "\(label) let a member through: \(asMember.status)")
                }
            }
        }
    }

    @Test func membersActOnThemselvesOnly() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "dave", password: "pw")
            let other = try await c.makeMember(admin: admin, name: "erin", password: "pw")
            let dave = try await c.token("dave", "pw", project: m.projectName)

            #expect(try await c.call(.get, "/identity/v3/users/\(m.user)", token: dave).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/users/\(other.user)", token: dave).status == .forbidden)
            #expect(try await c.call(.get, "/identity/v3/projects/\(m.project)", token: dave).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/projects/\(other.project)", token: dave).status == .forbidden)
            let create = try await c.call(.post, "/identity/v3/users", token: dave, json: ["user": ["name": "evil"]])
            #expect(create.status == .forbidden)
            #expect(create["error"]?["title"] == "Forbidden")
            #expect(try await c.call(.get, "/identity/v3/users/\(m.user)/projects", token: dave)["projects"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/regions", token: dave).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/services", token: dave).status == .forbidden)

            // Credentials: a member sees and manages only its own.
            let mine = try await c.call(.post, "/identity/v3/credentials", token: dave,
                                        json: ["credential": ["user_id": .string(m.user), "type": "cert", "blob": "abc"]])
            #expect(mine.status == .created)
            #expect(try await c.call(.post, "/identity/v3/credentials", token: dave,
                                     json: ["credential": ["user_id": .string(other.user), "type": "cert", "blob": "x"]]).status == .forbidden)
            let theirs = try await c.call(.post, "/identity/v3/credentials", token: admin,
                                          json: ["credential": ["user_id": .string(other.user), "type": "cert", "blob": "y"]])
            let theirID = try #require(theirs["credential"]?["id"]?.stringValue)
            #expect(try await c.call(.get, "/identity/v3/credentials/\(theirID)", token: dave).status == .notFound)
            #expect(try await c.call(.get, "/identity/v3/credentials", token: dave)["credentials"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/credentials", token: admin)["credentials"]?.array.count == 2)

            // A reader-only user reads its project but changes nothing.
            let r = try await c.makeMember(admin: admin, name: "rita", password: "pw", role: "reader")
            let rita = try await c.token("rita", "pw", project: r.projectName)
            #expect(try await c.call(.get, "/identity/v3/projects/\(r.project)", token: rita).status == .ok)
            #expect(try await c.call(.patch, "/identity/v3/projects/\(r.project)", token: rita, json: ["project": ["name": "x"]]).status == .forbidden)
        }
    }
}
