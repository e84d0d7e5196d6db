import Foundation
import MartletCore
import MartletTestSupport
import Testing

@Suite struct ResourceTests {
    @Test(arguments: TestBackend.available)
    func projectsUsersGroupsAndRoles(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            // Projects, with hierarchy and tags.
            let parent = try await c.call(.post, "/identity/v3/projects", token: admin, json: ["project": ["name": "parent", "tags": ["a", "b"], "owner": "ops"]])
            #expect(parent.status == .created)
            let pid = try #require(parent["project"]?["id"]?.stringValue)
            #expect(parent["project"]?["owner"] == "ops")
            #expect(parent["project"]?["parent_id"] == "default")
            let child = try await c.call(.post, "/identity/v3/projects", token: admin, json: ["project": ["name": "child", "parent_id": .string(pid)]])
            let cid = try #require(child["project"]?["id"]?.stringValue)
            #expect(try await c.call(.post, "/identity/v3/projects", token: admin, json: ["project": ["name": "parent"]]).status == .conflict)
            #expect(try await c.call(.get, "/identity/v3/projects?tags=a,b", token: admin)["projects"]?.array.map { $0["name"] } == ["parent"])
            #expect(try await c.call(.get, "/identity/v3/projects?parent_id=\(pid)", token: admin)["projects"]?.array.map { $0["id"] } == [.string(cid)])
            #expect(try await c.call(.get, "/identity/v3/projects?name__startswith=chi", token: admin)["projects"]?.array.count == 1)
            let tree = try await c.call(.get, "/identity/v3/projects/\(pid)?subtree_as_list", token: admin)
            #expect(tree["project"]?["subtree"]?.array.first?["project"]?["id"] == .string(cid))
            #expect(try await c.call(.delete, "/identity/v3/projects/\(pid)", token: admin).status == .forbidden)
            let renamed = try await c.call(.patch, "/identity/v3/projects/\(cid)", token: admin, json: ["project": ["name": "kid", "description": "small"]])
            #expect(renamed["project"]?["name"] == "kid" && renamed["project"]?["description"] == "small")
            #expect(try await c.call(.patch, "/identity/v3/projects/\(cid)", token: admin, json: ["project": ["domain_id": "other"]]).status == .badRequest)
            #expect(try await c.call(.put, "/identity/v3/projects/\(cid)/tags/x1", token: admin).status == .created)
            #expect(try await c.call(.get, "/identity/v3/projects/\(cid)/tags/x1", token: admin).status == .noContent)
            #expect(try await c.call(.put, "/identity/v3/projects/\(cid)/tags", token: admin, json: ["tags": ["t1", "t2"]])["tags"] == ["t1", "t2"])
            #expect(try await c.call(.get, "/identity/v3/projects/\(cid)/tags/x1", token: admin).status == .notFound)

            // Users and groups.
            let long = String(repeating: "n", count: 256)
            let tooLong = try await c.call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": .string(long)]])
            #expect(tooLong.status == .badRequest)
            #expect(tooLong["error"]?["message"]?.stringValue?.contains("user.name") == true)
            #expect(try await c.call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": "x", "enabled": "yes"]]).status == .badRequest)
            let user = try await c.call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": "frank", "password": "pw", "email": "f@example.org", "default_project_id": .string(cid)]])
            #expect(user.status == .created)
            #expect(user["user"]?["password"] == nil)
            #expect(user["user"]?["email"] == "f@example.org")
            let uid = try #require(user["user"]?["id"]?.stringValue)
            #expect(try await c.call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": "frank"]]).status == .conflict)
            let group = try await c.call(.post, "/identity/v3/groups", token: admin, json: ["group": ["name": "ops", "description": "operators"]])
            let gid = try #require(group["group"]?["id"]?.stringValue)
            #expect(try await c.call(.put, "/identity/v3/groups/\(gid)/users/\(uid)", token: admin).status == .noContent)
            #expect(try await c.call(.head, "/identity/v3/groups/\(gid)/users/\(uid)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/users/\(uid)/groups", token: admin)["groups"]?.array.map { $0["name"] } == ["ops"])

            // Roles, implications, and grants through a group.
            let role = try await c.call(.post, "/identity/v3/roles", token: admin, json: ["role": ["name": "auditor"]])
            let rid = try #require(role["role"]?["id"]?.stringValue)
            let reader = try #require(try await c.call(.get, "/identity/v3/roles?name=reader", token: admin)["roles"]?.array.first?["id"]?.stringValue)
            #expect(try await c.call(.put, "/identity/v3/roles/\(rid)/implies/\(reader)", token: admin).status == .created)
            #expect(try await c.call(.put, "/identity/v3/projects/\(cid)/groups/\(gid)/roles/\(rid)", token: admin).status == .noContent)
            let scoped = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "frank", password: "pw", project: nil))
            // No scope asked for: the default project, reached through the group.
            #expect(scoped["token"]?["project"]?["id"] == .string(cid))
            #expect(Set(scoped["token"]?["roles"]?.array.compactMap { $0["name"]?.stringValue } ?? []) == ["auditor", "reader"])

            let effective = try await c.call(.get, "/identity/v3/role_assignments?effective&include_names&user.id=\(uid)", token: admin)
            let rows = effective["role_assignments"]?.array ?? []
            #expect(Set(rows.compactMap { $0["role"]?["name"]?.stringValue }) == ["auditor", "reader"])
            #expect(rows.allSatisfy { $0["user"]?["name"] == "frank" && $0["scope"]?["project"]?["name"] == "kid" })
            #expect(rows.contains { $0["links"]?["membership"] != nil })
            let direct = try await c.call(.get, "/identity/v3/role_assignments?group.id=\(gid)", token: admin)
            #expect(direct["role_assignments"]?.array.count == 1)

            // Deleting cleans up what hangs off.
            #expect(try await c.call(.delete, "/identity/v3/roles/\(rid)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/role_assignments?group.id=\(gid)", token: admin)["role_assignments"]?.array.count == 0)
            #expect(try await c.call(.delete, "/identity/v3/users/\(uid)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/groups/\(gid)/users", token: admin)["users"]?.array.count == 0)
            #expect(try await c.call(.get, "/identity/v3/users/\(uid)", token: admin).status == .notFound)
        }
    }

    /// Query strings are form-encoded: `+` is a space (openstacksdk and the CLI send names that way).
    @Test func aPlusInAQueryIsASpace() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let made = try await c.call(.post, "/identity/v3/domains", token: admin, json: ["domain": ["name": "updated name"]])
            let id = try #require(made["domain"]?["id"])
            for query in ["name=updated+name", "name=updated%20name"] {
                #expect(try await c.call(.get, "/identity/v3/domains?\(query)", token: admin)["domains"]?.array.map { $0["id"] } == [id], "\(query)")
            }
            #expect(try await c.call(.get, "/identity/v3/projects?name=admin+", token: admin)["projects"]?.array.isEmpty == true)
        }
    }

    @Test func domainsCatalogAndCredentials() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let domain = try await c.call(.post, "/identity/v3/domains", token: admin, json: ["domain": ["name": "acme"]])
            let did = try #require(domain["domain"]?["id"]?.stringValue)
            #expect(try await c.call(.post, "/identity/v3/domains", token: admin, json: ["domain": ["name": "acme"]]).status == .conflict)
            let u = try await c.call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": "admin", "domain_id": .string(did)]])
            #expect(u.status == .created) // same name, other domain
            #expect(try await c.call(.delete, "/identity/v3/domains/\(did)", token: admin).status == .forbidden)
            #expect(try await c.call(.patch, "/identity/v3/domains/\(did)", token: admin, json: ["domain": ["enabled": false]]).status == .ok)
            #expect(try await c.call(.delete, "/identity/v3/domains/\(did)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/users?domain_id=\(did)", token: admin)["users"]?.array.count == 0)

            let region = try await c.call(.post, "/identity/v3/regions", token: admin, json: ["region": ["id": "RegionTwo", "parent_region_id": "RegionOne"]])
            #expect(region["region"]?["parent_region_id"] == "RegionOne")
            #expect(try await c.call(.post, "/identity/v3/regions", token: admin, json: ["region": ["parent_region_id": "Nowhere"]]).status == .notFound)
            let service = try await c.call(.post, "/identity/v3/services", token: admin, json: ["service": ["type": "compute", "name": "nova"]])
            let sid = try #require(service["service"]?["id"]?.stringValue)
            let endpoint = try await c.call(.post, "/identity/v3/endpoints", token: admin, json: ["endpoint": [
                "service_id": .string(sid), "interface": "public", "url": "http://127.0.0.1:5000/compute/v2.1", "region_id": "RegionTwo"]])
            #expect(endpoint.status == .created)
            #expect(try await c.call(.post, "/identity/v3/endpoints", token: admin, json: ["endpoint": [
                "service_id": .string(sid), "interface": "sideways", "url": "http://x"]]).status == .badRequest)
            let catalog = try await c.call(.get, "/identity/v3/auth/catalog", token: admin)
            #expect(catalog["catalog"]?.array.contains { $0["type"] == "compute" && $0["name"] == "nova" } == true)
            #expect(try await c.call(.delete, "/identity/v3/services/\(sid)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/endpoints?service_id=\(sid)", token: admin)["endpoints"]?.array.count == 0)

            let me = try #require(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": admin])["token"]?["user"]?["id"]?.stringValue)
            let project = try #require(try await c.call(.get, "/identity/v3/projects?name=admin", token: admin)["projects"]?.array.first?["id"]?.stringValue)
            let ec2 = try await c.call(.post, "/identity/v3/users/\(me)/credentials/OS-EC2", token: admin, json: ["tenant_id": .string(project)])
            #expect(ec2.status == .created)
            let access = try #require(ec2["credential"]?["access"]?.stringValue)
            #expect(ec2["credential"]?["secret"]?.stringValue?.isEmpty == false)
            #expect(try await c.call(.get, "/identity/v3/users/\(me)/credentials/OS-EC2/\(access)", token: admin)["credential"]?["tenant_id"] == .string(project))
            let listed = try await c.call(.get, "/identity/v3/credentials?type=ec2", token: admin)
            #expect(listed["credentials"]?.array.count == 1)
            #expect(try await c.call(.delete, "/identity/v3/users/\(me)/credentials/OS-EC2/\(access)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/users/\(me)/credentials/OS-EC2/\(access)", token: admin).status == .notFound)
        }
    }

    @Test func operationalEndpoints() async throws {
        let cloud = try await TestCloud.make()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            #expect(try await c.call(.get, "/healthz").status == .ok)
            let versions = try await c.call(.get, "/identity")
            #expect(versions.status == .multipleChoices)
            #expect(versions["versions"]?["values"]?.array.first?["id"] == "v3.14")
            #expect(try await c.call(.get, "/identity/v3")["version"]?["status"] == "stable")
            let missing = try await c.call(.get, "/identity/v3/nonsense")
            #expect(missing.status == .notFound)
            #expect(missing["error"]?["code"] == 404)
            #expect(missing.header("x-openstack-request-id") != nil)
            let metrics = try await c.http.execute(uri: "/metrics", method: .get)
            let text = String(buffer: metrics.body)
            #expect(text.contains("martlet_http_requests_total{service=\"identity\",route=\"/identity/v3\",status=\"200\"}"))
            #expect(text.contains("martlet_http_request_duration_seconds_bucket"))
        }
    }
}
