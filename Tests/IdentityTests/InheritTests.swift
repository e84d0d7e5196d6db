import Foundation
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

/// OS-INHERIT: grants on a domain or a project that hold on every project below it.
@Suite struct InheritTests {
    /// Creates something through the API and returns its id.
    static func create(_ c: Client, _ token: String, _ path: String, _ key: String, _ body: JSON) async throws -> String {
        let reply = try await c.call(.post, "/identity/v3/\(path)", token: token, json: [key: body])
        guard reply.status == .created, let id = reply[key]?["id"]?.stringValue else {
            throw TestFailure("creating \(key) failed: \(reply.status) \(reply.body?.text ?? "")")
        }
        return id
    }

    static func roleNames(_ reply: Reply) -> Set<String> {
        Set(reply["token"]?["roles"]?.array.compactMap { $0["name"]?.stringValue } ?? [])
    }

    @Test(arguments: TestBackend.available)
    func domainGrantsInheritedByItsProjects(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let domain = try await Self.create(c, admin, "domains", "domain", ["name": "inh-d"])
            let parent = try await Self.create(c, admin, "projects", "project", ["name": "inh-p", "domain_id": .string(domain)])
            let child = try await Self.create(c, admin, "projects", "project", ["name": "inh-c", "parent_id": .string(parent)])
            let user = try await Self.create(c, admin, "users", "user", ["name": "inh-u", "password": "pw", "domain_id": .string(domain)])
            let role = try await Self.create(c, admin, "roles", "role", ["name": "inh-role"])
            let grant = "/identity/v3/OS-INHERIT/domains/\(domain)/users/\(user)/roles/\(role)/inherited_to_projects"

            #expect(try await c.call(.head, grant, token: admin).status == .notFound)
            #expect(try await c.call(.put, grant, token: admin).status == .noContent)
            #expect(try await c.call(.put, grant, token: admin).status == .noContent)
            #expect(try await c.call(.get, grant, token: admin).status == .noContent)
            #expect(try await c.call(.head, grant, token: admin).status == .noContent)
            let listed = try await c.call(.get, "/identity/v3/OS-INHERIT/domains/\(domain)/users/\(user)/roles/inherited_to_projects", token: admin)
            #expect(listed.status == .ok)
            #expect(listed["roles"]?.array.map { $0["id"] } == [.string(role)])
            #expect(listed["links"]?["self"]?.stringValue?.hasSuffix("/OS-INHERIT/domains/\(domain)/users/\(user)/roles/inherited_to_projects") == true)
            // It is not a grant on the domain itself.
            #expect(try await c.call(.get, "/identity/v3/domains/\(domain)/users/\(user)/roles", token: admin)["roles"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/identity/v3/domains/\(domain)/users/\(user)/roles/\(role)", token: admin).status == .notFound)

            // Tokens: the role on every project of the domain, none on the domain.
            let onParent = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "inh-u", password: "pw", project: "inh-p", domain: "inh-d"))
            #expect(onParent.status == .created)
            #expect(Self.roleNames(onParent) == ["inh-role"])
            let onChild = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "inh-u", password: "pw", project: "inh-c", domain: "inh-d"))
            #expect(Self.roleNames(onChild) == ["inh-role"])
            let onDomain = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["password"], "password": ["user": ["id": .string(user), "password": "pw"]]],
                "scope": ["domain": ["id": .string(domain)]]]])
            #expect(onDomain.status == .unauthorized)
            let unscopedReply = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "inh-u", password: "pw", project: nil, domain: "inh-d"))
            let unscoped = try #require(unscopedReply.header("X-Subject-Token"))
            #expect(Set(try await c.call(.get, "/identity/v3/auth/projects", token: unscoped)["projects"]?.array.compactMap { $0["id"]?.stringValue } ?? [])
                    == [parent, child])
            #expect(Set(try await c.call(.get, "/identity/v3/users/\(user)/projects", token: admin)["projects"]?.array.compactMap { $0["id"]?.stringValue } ?? [])
                    == [parent, child])

            // The assignment as stored, and as it takes effect.
            let direct = try await c.call(.get, "/identity/v3/role_assignments?user.id=\(user)", token: admin)["role_assignments"]?.array ?? []
            #expect(direct.count == 1)
            #expect(direct.first?["scope"]?["domain"]?["id"] == .string(domain))
            #expect(direct.first?["scope"]?["OS-INHERIT:inherited_to"] == "projects")
            #expect(direct.first?["links"]?["assignment"]?.stringValue?.hasSuffix(String(grant.dropFirst("/identity/v3".count))) == true)
            #expect(try await c.call(.get, "/identity/v3/role_assignments?user.id=\(user)&scope.OS-INHERIT:inherited_to=projects", token: admin)["role_assignments"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/role_assignments?user.id=\(user)&scope.OS-INHERIT:inherited_to=none", token: admin)["role_assignments"]?.array.count == 0)
            let effective = try await c.call(.get, "/identity/v3/role_assignments?effective&user.id=\(user)", token: admin)["role_assignments"]?.array ?? []
            #expect(Set(effective.compactMap { $0["scope"]?["project"]?["id"]?.stringValue }) == [parent, child])
            #expect(effective.allSatisfy { $0["scope"]?["OS-INHERIT:inherited_to"] == "projects" && $0["scope"]?["domain"] == nil })
            #expect(effective.allSatisfy { $0["links"]?["assignment"]?.stringValue?.hasSuffix("/OS-INHERIT/domains/\(domain)/users/\(user)/roles/\(role)/inherited_to_projects") == true })
            let onLeaf = try await c.call(.get, "/identity/v3/role_assignments?effective&user.id=\(user)&scope.project.id=\(child)", token: admin)
            #expect(onLeaf["role_assignments"]?.array.count == 1)
            let named = try await c.call(.get, "/identity/v3/role_assignments?effective&include_names&user.id=\(user)&scope.project.id=\(child)", token: admin)
            #expect(named["role_assignments"]?.array.first?["scope"]?["project"]?["name"] == "inh-c")
            #expect(named["role_assignments"]?.array.first?["role"]?["name"] == "inh-role")
            #expect(try await c.call(.get, "/identity/v3/role_assignments?effective&scope.domain.id=\(domain)", token: admin)["role_assignments"]?.array.count == 0)

            // Revoking it takes the role away from tokens already issued.
            let childToken = try #require(onChild.header("X-Subject-Token"))
            #expect(try await c.call(.delete, grant, token: admin).status == .noContent)
            #expect(try await c.call(.delete, grant, token: admin).status == .notFound)
            #expect(try await c.call(.get, grant, token: admin).status == .notFound)
            #expect(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": childToken]).status == .notFound)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "inh-u", password: "pw", project: "inh-c", domain: "inh-d")).status == .unauthorized)
            #expect(try await c.call(.get, "/identity/v3/role_assignments?effective&user.id=\(user)", token: admin)["role_assignments"]?.array.count == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func projectGrantsInheritedByItsSubtreeThroughAGroup(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let top = try await Self.create(c, admin, "projects", "project", ["name": "tree-top"])
            let mid = try await Self.create(c, admin, "projects", "project", ["name": "tree-mid", "parent_id": .string(top)])
            let leaf = try await Self.create(c, admin, "projects", "project", ["name": "tree-leaf", "parent_id": .string(mid)])
            let user = try await Self.create(c, admin, "users", "user", ["name": "tree-u", "password": "pw"])
            let group = try await Self.create(c, admin, "groups", "group", ["name": "tree-g"])
            #expect(try await c.call(.put, "/identity/v3/groups/\(group)/users/\(user)", token: admin).status == .noContent)
            let member = try #require(try await c.call(.get, "/identity/v3/roles?name=member", token: admin)["roles"]?.array.first?["id"]?.stringValue)
            let grant = "/identity/v3/OS-INHERIT/projects/\(top)/groups/\(group)/roles/\(member)/inherited_to_projects"
            #expect(try await c.call(.put, grant, token: admin).status == .noContent)
            #expect(try await c.call(.head, grant, token: admin).status == .noContent)
            // Keystone lists inherited grants on domains only.
            #expect(try await c.call(.get, "/identity/v3/OS-INHERIT/projects/\(top)/groups/\(group)/roles/inherited_to_projects", token: admin).status == .notFound)

            // Not on the project itself; on everything below it, with what member implies.
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "tree-u", password: "pw", project: "tree-top")).status == .unauthorized)
            let onMid = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "tree-u", password: "pw", project: "tree-mid"))
            #expect(Self.roleNames(onMid) == ["member", "reader"])
            let onLeaf = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "tree-u", password: "pw", project: "tree-leaf"))
            #expect(Self.roleNames(onLeaf) == ["member", "reader"])

            let effective = try await c.call(.get, "/identity/v3/role_assignments?effective&user.id=\(user)", token: admin)["role_assignments"]?.array ?? []
            #expect(Set(effective.compactMap { $0["scope"]?["project"]?["id"]?.stringValue }) == [mid, leaf])
            #expect(effective.count == 4)
            let direct = try #require(effective.first { $0["role"]?["id"] == .string(member) })
            #expect(direct["links"]?["membership"]?.stringValue?.hasSuffix("/groups/\(group)/users/\(user)") == true)
            #expect(direct["links"]?["assignment"]?.stringValue?.hasSuffix("/OS-INHERIT/projects/\(top)/groups/\(group)/roles/\(member)/inherited_to_projects") == true)
            #expect(effective.contains { $0["links"]?["prior_role"] != nil })

            // include_subtree: the grant on the tree (direct), or its effect below it (effective).
            let tree = try await c.call(.get, "/identity/v3/role_assignments?scope.project.id=\(top)&include_subtree=true", token: admin)
            #expect(tree["role_assignments"]?.array.map { $0["group"]?["id"] } == [.string(group)])
            let treeEffective = try await c.call(.get, "/identity/v3/role_assignments?scope.project.id=\(mid)&include_subtree=true&effective", token: admin)
            #expect(Set(treeEffective["role_assignments"]?.array.compactMap { $0["scope"]?["project"]?["id"]?.stringValue } ?? []) == [mid, leaf])
            #expect(try await c.call(.get, "/identity/v3/role_assignments?effective&role.id=\(member)&scope.project.id=\(leaf)", token: admin)["role_assignments"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/role_assignments?group.id=\(group)&scope.OS-INHERIT:inherited_to=projects", token: admin)["role_assignments"]?.array.count == 1)

            // Leaving the group takes it away.
            #expect(try await c.call(.delete, "/identity/v3/groups/\(group)/users/\(user)", token: admin).status == .noContent)
            #expect(try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "tree-u", password: "pw", project: "tree-leaf")).status == .unauthorized)
            #expect(try await c.call(.delete, grant, token: admin).status == .noContent)
        }
    }

    @Test func refusedRequests() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "inh-mallory", password: "pw")
            let mallory = try await c.token("inh-mallory", "pw", project: m.projectName)
            let member = try #require(try await c.call(.get, "/identity/v3/roles?name=member", token: admin)["roles"]?.array.first?["id"]?.stringValue)
            let unknown = "0123456789abcdef0123456789abcdef"
            let base = "/identity/v3/OS-INHERIT/domains/default/users/\(m.user)/roles"
            #expect(try await c.call(.put, "\(base)/\(member)/inherited_to_projects", token: mallory).status == .forbidden)
            #expect(try await c.call(.put, "\(base)/\(unknown)/inherited_to_projects", token: admin).status == .notFound)
            #expect(try await c.call(.put, "/identity/v3/OS-INHERIT/domains/\(unknown)/users/\(m.user)/roles/\(member)/inherited_to_projects", token: admin).status == .notFound)
            #expect(try await c.call(.put, "/identity/v3/OS-INHERIT/projects/\(m.project)/users/\(unknown)/roles/\(member)/inherited_to_projects", token: admin).status == .notFound)
            #expect(try await c.call(.put, "/identity/v3/OS-INHERIT/projects/default/users/\(m.user)/roles/\(member)/inherited_to_projects", token: admin).status == .notFound)
            // A domain-specific role goes on projects of its own domain only.
            let other = try await InheritTests.create(c, admin, "domains", "domain", ["name": "inh-other"])
            let local = try await InheritTests.create(c, admin, "roles", "role", ["name": "local", "domain_id": .string(other)])
            let mismatch = try await c.call(.put, "/identity/v3/OS-INHERIT/projects/\(m.project)/users/\(m.user)/roles/\(local)/inherited_to_projects", token: admin)
            #expect(mismatch.status == .forbidden)

            for (query, words) in [
                ("include_subtree=true", "scope.project.id must be specified"),
                ("effective&group.id=\(unknown)", "Combining effective and group"),
                ("scope.domain.id=default&scope.project.id=\(m.project)", "Specify a domain or project"),
                ("user.id=\(m.user)&group.id=\(unknown)", "Specify a user or group"),
                ("scope.system=all&scope.domain.id=default", "Specify system or domain"),
                ("effective&scope.OS-INHERIT:inherited_to=projects&scope.domain.id=default", "Combining effective, domain and inherited"),
            ] {
                let refused = try await c.call(.get, "/identity/v3/role_assignments?\(query)", token: admin)
                #expect(refused.status == .badRequest, "\(query)")
                #expect(refused["error"]?["message"]?.stringValue?.contains(words) == true, "\(query)")
            }
            #expect(try await c.call(.get, "/identity/v3/role_assignments?include_subtree=true&scope.project.id=\(m.project)", token: mallory).status == .forbidden)
        }
    }
}
