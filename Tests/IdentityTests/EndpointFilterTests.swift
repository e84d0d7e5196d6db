import Foundation
@testable import Identity
import MartletCore
import MartletTestSupport
import Testing

/// OS-EP-FILTER: endpoint groups and endpoints associated with projects, and the catalogs that follow.
@Suite struct EndpointFilterTests {
    @Test(arguments: TestBackend.available)
    func associationsAndFilteredCatalog(_ backend: TestBackend) async throws {
        let cloud = try await TestCloud.make(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let sid = try #require(try await c.call(.get, "/identity/v3/services?type=identity", token: admin)["services"]?.array.first?["id"]?.stringValue)
            let endpoints = try await c.call(.get, "/identity/v3/endpoints", token: admin)["endpoints"]?.array ?? []
            let publicID = try #require(endpoints.first { $0["interface"] == "public" }?["id"]?.stringValue)
            let internalID = try #require(endpoints.first { $0["interface"] == "internal" }?["id"]?.stringValue)
            let m = try await c.makeMember(admin: admin, name: "ed", password: "pw")
            let base = "/identity/v3/OS-EP-FILTER"

            // Groups filter by service, region and interface only, and need a filter.
            #expect(try await c.call(.post, "\(base)/endpoint_groups", token: admin,
                                     json: ["endpoint_group": ["name": "bad", "filters": ["url": "x"]]]).status == .badRequest)
            #expect(try await c.call(.post, "\(base)/endpoint_groups", token: admin,
                                     json: ["endpoint_group": ["name": "empty", "filters": [:]]]).status == .badRequest)
            let group = try await c.call(.post, "\(base)/endpoint_groups", token: admin, json: ["endpoint_group": [
                "name": "public identity", "filters": ["service_id": .string(sid), "interface": "public"]]])
            #expect(group.status == .created)
            let gid = try #require(group["endpoint_group"]?["id"]?.stringValue)
            #expect(try await c.call(.get, "\(base)/endpoint_groups/\(gid)/endpoints", token: admin)["endpoints"]?.array.map { $0["id"] } == [.string(publicID)])
            #expect(try await c.call(.get, "\(base)/endpoint_groups/nope/endpoints", token: admin).status == .notFound)

            // The group made visible to a project.
            let association = "\(base)/endpoint_groups/\(gid)/projects/\(m.project)"
            #expect(try await c.call(.get, association, token: admin).status == .notFound)
            #expect(try await c.call(.put, association, token: admin).status == .noContent)
            #expect(try await c.call(.put, association, token: admin).status == .conflict)
            #expect(try await c.call(.put, "\(base)/endpoint_groups/\(gid)/projects/nope", token: admin).status == .notFound)
            #expect(try await c.call(.put, "\(base)/endpoint_groups/nope/projects/\(m.project)", token: admin).status == .notFound)
            let shown = try await c.call(.get, association, token: admin)
            #expect(shown["project_endpoint_group"]?["endpoint_group_id"] == .string(gid))
            #expect(shown["project_endpoint_group"]?["project_id"] == .string(m.project))
            #expect(try await c.call(.head, association, token: admin).status == .ok)
            #expect(try await c.call(.get, "\(base)/endpoint_groups/\(gid)/projects", token: admin)["projects"]?.array.map { $0["id"] } == [.string(m.project)])
            #expect(try await c.call(.get, "\(base)/projects/\(m.project)/endpoint_groups", token: admin)["endpoint_groups"]?.array.map { $0["id"] } == [.string(gid)])

            // The project's tokens now carry only the group's endpoints; other projects' the whole catalog.
            func catalogEndpoints(_ token: String) async throws -> Set<String> {
                let catalog = try await c.call(.get, "/identity/v3/auth/catalog", token: token)["catalog"]?.array ?? []
                return Set(catalog.flatMap { $0["endpoints"]?.array ?? [] }.compactMap { $0["id"]?.stringValue })
            }
            let ed = try await c.token("ed", "pw", project: m.projectName)
            #expect(try await catalogEndpoints(ed) == [publicID])
            let issued = try await c.call(.post, "/identity/v3/auth/tokens", json: Client.passwordAuth(user: "ed", password: "pw", project: m.projectName))
            #expect(issued["token"]?["catalog"]?.array.flatMap { $0["endpoints"]?.array ?? [] }.count == 1)
            #expect(try await catalogEndpoints(admin).count == 3)

            // A direct association adds an endpoint.
            let direct = "\(base)/projects/\(m.project)/endpoints/\(internalID)"
            #expect(try await c.call(.head, direct, token: admin).status == .notFound)
            #expect(try await c.call(.put, direct, token: admin).status == .noContent)
            #expect(try await c.call(.put, direct, token: admin).status == .conflict)
            #expect(try await c.call(.put, "\(base)/projects/\(m.project)/endpoints/nope", token: admin).status == .notFound)
            #expect(try await c.call(.put, "\(base)/projects/nope/endpoints/\(internalID)", token: admin).status == .notFound)
            #expect(try await c.call(.head, direct, token: admin).status == .noContent)
            #expect(try await c.call(.get, direct, token: admin).status == .noContent)
            let listed = try await c.call(.get, "\(base)/projects/\(m.project)/endpoints", token: admin)["endpoints"]?.array ?? []
            #expect(Set(listed.compactMap { $0["id"]?.stringValue }) == [publicID, internalID])
            #expect(try await c.call(.get, "\(base)/endpoints/\(internalID)/projects", token: admin)["projects"]?.array.map { $0["id"] } == [.string(m.project)])
            #expect(try await c.call(.get, "\(base)/endpoints/nope/projects", token: admin).status == .notFound)
            #expect(try await catalogEndpoints(ed) == [publicID, internalID])

            // Members may not look at or change any of it.
            #expect(try await c.call(.get, "\(base)/projects/\(m.project)/endpoints", token: ed).status == .forbidden)
            #expect(try await c.call(.put, "\(base)/projects/\(m.project)/endpoints/\(publicID)", token: ed).status == .forbidden)

            #expect(try await c.call(.delete, direct, token: admin).status == .noContent)
            #expect(try await c.call(.delete, direct, token: admin).status == .notFound)
            #expect(try await c.call(.delete, association, token: admin).status == .noContent)
            #expect(try await c.call(.delete, association, token: admin).status == .notFound)
            #expect(try await catalogEndpoints(ed).count == 3)

            // Deleting a group ends its associations; deleting an endpoint ends its own.
            #expect(try await c.call(.put, association, token: admin).status == .noContent)
            #expect(try await c.call(.put, direct, token: admin).status == .noContent)
            #expect(try await c.call(.delete, "\(base)/endpoint_groups/\(gid)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "\(base)/projects/\(m.project)/endpoint_groups", token: admin)["endpoint_groups"]?.array.isEmpty == true)
            #expect(try await c.call(.delete, "/identity/v3/endpoints/\(internalID)", token: admin).status == .noContent)
            #expect(try await c.call(.get, "\(base)/projects/\(m.project)/endpoints", token: admin)["endpoints"]?.array.isEmpty == true)
            #expect(try await catalogEndpoints(ed).count == 2)
        }
    }
}
