import Foundation
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

/// Unified limits: registered limits, project and domain limits, who sees which.
@Suite struct LimitTests {
    static func serviceID(_ c: Client, _ admin: String, type: String = "identity") async throws -> String {
        try #require(try await c.call(.get, "/identity/v3/services?type=\(type)", token: admin)["services"]?.array.first?["id"]?.stringValue)
    }

    @Test(arguments: TestBackend.available)
    func registeredLimits(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let sid = try await Self.serviceID(c, admin)
            #expect(try await c.call(.get, "/identity/v3/limits/model").status == .unauthorized)
            let model = try await c.call(.get, "/identity/v3/limits/model", token: admin)
            #expect(model["model"] == ["name": "flat", "description": "Limit enforcement and validation does not take project hierarchy into consideration."])

            let made = try await c.call(.post, "/identity/v3/registered_limits", token: admin, json: ["registered_limits": [
                ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "default_limit": 10],
                ["service_id": .string(sid), "resource_name": "snapshot", "default_limit": 5, "description": "snapshots"],
            ]])
            #expect(made.status == .created)
            let list = made["registered_limits"]?.array ?? []
            #expect(list.count == 2 && made["links"] == nil)
            let volume = try #require(list.first { $0["resource_name"] == "volume" })
            let vid = try #require(volume["id"]?.stringValue)
            #expect(volume["region_id"] == "RegionOne" && volume["default_limit"] == 10 && volume["description"] == .null)
            #expect(volume["links"]?["self"]?.stringValue?.hasSuffix("/identity/v3/registered_limits/\(vid)") == true)
            #expect(list.first { $0["resource_name"] == "snapshot" }?["region_id"] == .null)

            // All or nothing: a duplicate anywhere in the request creates none of it.
            let again = try await c.call(.post, "/identity/v3/registered_limits", token: admin, json: ["registered_limits": [
                ["service_id": .string(sid), "resource_name": "backup", "default_limit": 1],
                ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "default_limit": 3],
            ]])
            #expect(again.status == .conflict)
            #expect(try await c.call(.get, "/identity/v3/registered_limits?resource_name=backup", token: admin)["registered_limits"]?.array.isEmpty == true)
            let twice = try await c.call(.post, "/identity/v3/registered_limits", token: admin, json: ["registered_limits": [
                ["service_id": .string(sid), "resource_name": "backup", "default_limit": 1],
                ["service_id": .string(sid), "resource_name": "backup", "default_limit": 2],
            ]])
            #expect(twice.status == .conflict)

            let invalid: [JSON] = [
                ["registered_limits": []],
                ["registered_limits": [["service_id": "nope", "resource_name": "x", "default_limit": 1]]],
                ["registered_limits": [["service_id": .string(sid), "region_id": "Nowhere", "resource_name": "x", "default_limit": 1]]],
                ["registered_limits": [["service_id": .string(sid), "resource_name": "x", "default_limit": "ten"]]],
                ["registered_limits": [["service_id": .string(sid), "resource_name": "x", "default_limit": -2]]],
                ["registered_limits": [["service_id": .string(sid), "resource_name": " ", "default_limit": 1]]],
                ["registered_limits": [["service_id": .string(sid), "default_limit": 1]]],
                ["registered_limits": [["service_id": .string(sid), "resource_name": "x", "default_limit": 1, "color": "red"]]],
                ["registered_limit": [["service_id": .string(sid), "resource_name": "x", "default_limit": 1]]],
            ]
            for body in invalid {
                let reply = try await c.call(.post, "/identity/v3/registered_limits", token: admin, json: body)
                #expect(reply.status == .badRequest, "\(body.text): \(reply.status)")
            }

            #expect(try await c.call(.get, "/identity/v3/registered_limits", token: admin)["registered_limits"]?.array.count == 2)
            #expect(try await c.call(.get, "/identity/v3/registered_limits?region_id=RegionOne", token: admin)["registered_limits"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/registered_limits?service_id=\(sid)&resource_name=snapshot", token: admin)["registered_limits"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/registered_limits/\(vid)", token: admin)["registered_limit"]?["resource_name"] == "volume")
            #expect(try await c.call(.head, "/identity/v3/registered_limits/\(vid)", token: admin).status == .ok)
            #expect(try await c.call(.get, "/identity/v3/registered_limits/nope", token: admin).status == .notFound)

            let patched = try await c.call(.patch, "/identity/v3/registered_limits/\(vid)", token: admin,
                                           json: ["registered_limit": ["default_limit": 20, "description": "volumes"]])
            #expect(patched["registered_limit"]?["default_limit"] == 20 && patched["registered_limit"]?["description"] == "volumes")
            // Moving it onto the key of another registered limit (snapshot, no region) conflicts.
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/\(vid)", token: admin,
                                     json: ["registered_limit": ["region_id": nil, "resource_name": "snapshot"]]).status == .conflict)
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/\(vid)", token: admin,
                                     json: ["registered_limit": ["region_id": nil]])["registered_limit"]?["region_id"] == .null)
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/\(vid)", token: admin,
                                     json: ["registered_limit": ["region_id": ""]]).status == .badRequest)
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/\(vid)", token: admin,
                                     json: ["registered_limit": ["service_id": "nope"]]).status == .badRequest)
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/nope", token: admin,
                                     json: ["registered_limit": ["default_limit": 1]]).status == .notFound)

            // Anyone reads registered limits; only admins write them.
            let m = try await c.makeMember(admin: admin, name: "rita", password: "pw")
            let memberToken = try await c.token("rita", "pw", project: m.projectName)
            #expect(try await c.call(.get, "/identity/v3/registered_limits", token: memberToken)["registered_limits"]?.array.count == 2)
            #expect(try await c.call(.get, "/identity/v3/limits/model", token: memberToken).status == .ok)
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/\(vid)", token: memberToken,
                                     json: ["registered_limit": ["default_limit": 1]]).status == .forbidden)
            #expect(try await c.call(.delete, "/identity/v3/registered_limits/\(vid)", token: memberToken).status == .forbidden)

            #expect(try await c.call(.delete, "/identity/v3/registered_limits/\(vid)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/registered_limits/\(vid)", token: admin).status == .notFound)
        }
    }

    @Test(arguments: TestBackend.available)
    func projectAndDomainLimits(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let sid = try await Self.serviceID(c, admin)
            let registered = try await c.call(.post, "/identity/v3/registered_limits", token: admin, json: ["registered_limits": [
                ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "default_limit": 10],
            ]])
            let rid = try #require(registered["registered_limits"]?.array.first?["id"]?.stringValue)
            let m = try await c.makeMember(admin: admin, name: "lena", password: "pw")
            let other = try await c.makeMember(admin: admin, name: "otto", password: "pw")

            let made = try await c.call(.post, "/identity/v3/limits", token: admin, json: ["limits": [
                ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "resource_limit": 5, "project_id": .string(m.project)],
                ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "resource_limit": 7, "project_id": .string(other.project)],
                // a domain named as a project makes a domain limit
                ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "resource_limit": 50, "project_id": "default"],
            ]])
            #expect(made.status == .created)
            let limits = made["limits"]?.array ?? []
            let mine = try #require(limits.first { $0["project_id"] == .string(m.project) })
            let mineID = try #require(mine["id"]?.stringValue)
            #expect(mine["service_id"] == .string(sid) && mine["region_id"] == "RegionOne" && mine["resource_name"] == "volume")
            #expect(mine["resource_limit"] == 5 && mine["domain_id"] == .null && mine["description"] == .null)
            let domainLimit = try #require(limits.first { $0["domain_id"] == "default" })
            #expect(domainLimit["project_id"] == .null)
            let domainLimitID = try #require(domainLimit["id"]?.stringValue)

            func create(_ limit: JSON) async throws -> Int {
                Int(try await c.call(.post, "/identity/v3/limits", token: admin, json: ["limits": [limit]]).status.code)
            }
            let base: [String: JSON] = ["service_id": .string(sid), "region_id": "RegionOne", "resource_name": "volume", "resource_limit": 1]
            #expect(try await create(.object(base.merging(["project_id": .string(m.project)]) { $1 })) == 409)
            #expect(try await create(.object(base.merging(["project_id": .string(m.project), "resource_name": "nothing"]) { $1 })) == 403)
            #expect(try await create(.object(base.merging(["project_id": .string(m.project), "region_id": nil]) { $1 })) == 403)
            #expect(try await create(.object(base.merging(["project_id": "nope"]) { $1 })) == 400)
            #expect(try await create(.object(base.merging(["domain_id": "nope"]) { $1 })) == 400)
            #expect(try await create(.object(base)) == 400)
            #expect(try await create(.object(base.merging(["project_id": .string(m.project), "domain_id": "default"]) { $1 })) == 400)
            #expect(try await create(.object(base.merging(["project_id": .string(m.project), "resource_limit": "many"]) { $1 })) == 400)

            #expect(try await c.call(.get, "/identity/v3/limits", token: admin)["limits"]?.array.count == 3)
            #expect(try await c.call(.get, "/identity/v3/limits?project_id=\(m.project)", token: admin)["limits"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/limits?domain_id=default", token: admin)["limits"]?.array.count == 1)
            #expect(try await c.call(.get, "/identity/v3/limits?resource_name=volume&service_id=\(sid)", token: admin)["limits"]?.array.count == 3)

            // A project member sees its project's limit and nothing else.
            let lena = try await c.token("lena", "pw", project: m.projectName)
            #expect(try await c.call(.get, "/identity/v3/limits", token: lena)["limits"]?.array.map { $0["id"] } == [.string(mineID)])
            #expect(try await c.call(.get, "/identity/v3/limits/\(mineID)", token: lena)["limit"]?["resource_limit"] == 5)
            #expect(try await c.call(.get, "/identity/v3/limits/\(domainLimitID)", token: lena).status == .forbidden)
            #expect(try await c.call(.patch, "/identity/v3/limits/\(mineID)", token: lena, json: ["limit": ["resource_limit": 100]]).status == .forbidden)
            #expect(try await c.call(.post, "/identity/v3/limits", token: lena, json: ["limits": [.object(base.merging(["project_id": .string(m.project)]) { $1 })]]).status == .forbidden)

            // A domain-scoped token sees the domain's limit and those of the domain's projects.
            let reader = try #require(try await c.call(.get, "/identity/v3/roles?name=reader", token: admin)["roles"]?.array.first?["id"]?.stringValue)
            #expect(try await c.call(.put, "/identity/v3/domains/default/users/\(m.user)/roles/\(reader)", token: admin).status == .noContent)
            let domainScoped = try await c.call(.post, "/identity/v3/auth/tokens", json: ["auth": [
                "identity": ["methods": ["password"], "password": ["user": ["id": .string(m.user), "password": "pw"]]],
                "scope": ["domain": ["id": "default"]]]])
            let lenaDomain = try #require(domainScoped.header("X-Subject-Token"))
            #expect(try await c.call(.get, "/identity/v3/limits", token: lenaDomain)["limits"]?.array.count == 3)
            #expect(try await c.call(.get, "/identity/v3/limits/\(domainLimitID)", token: lenaDomain).status == .ok)

            let patched = try await c.call(.patch, "/identity/v3/limits/\(mineID)", token: admin, json: ["limit": ["resource_limit": 0, "description": "none left"]])
            #expect(patched["limit"]?["resource_limit"] == 0 && patched["limit"]?["description"] == "none left")
            #expect(try await c.call(.patch, "/identity/v3/limits/\(mineID)", token: admin, json: ["limit": ["resource_name": "x"]]).status == .badRequest)
            #expect(try await c.call(.patch, "/identity/v3/limits/nope", token: admin, json: ["limit": ["resource_limit": 1]]).status == .notFound)

            // A registered limit that limits refer to can be neither changed nor deleted (Keystone).
            #expect(try await c.call(.patch, "/identity/v3/registered_limits/\(rid)", token: admin,
                                     json: ["registered_limit": ["default_limit": 1]]).status == .forbidden)
            #expect(try await c.call(.delete, "/identity/v3/registered_limits/\(rid)", token: admin).status == .forbidden)

            // Limits go with their project.
            #expect(try await c.call(.delete, "/identity/v3/projects/\(other.project)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/limits", token: admin)["limits"]?.array.count == 2)

            #expect(try await c.call(.delete, "/identity/v3/limits/\(mineID)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/identity/v3/limits/\(mineID)", token: admin).status == .notFound)
            #expect(try await c.call(.delete, "/identity/v3/limits/\(domainLimitID)", token: admin).status == .noContent)
            #expect(try await c.call(.delete, "/identity/v3/registered_limits/\(rid)", token: admin).status == .noContent)
        }
    }
}
