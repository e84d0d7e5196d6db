import Foundation
@testable import Image
import MartletCore
import MartletTestSupport
import Testing

/// Resource-type associations of metadata-definition namespaces, as Glance answers them.
@Suite struct MetadefResourceTypeTests {
    static let namespaces = "/image/v2/metadefs/namespaces"

    @Test(arguments: TestBackend.available)
    func associateListAndRemove(_ backend: TestBackend) async throws {
        let cloud = try await imageCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            #expect(try await c.call(.post, Self.namespaces, token: admin, json: ["namespace": "OS::RT", "visibility": "public"]).status == .created)
            let path = "\(Self.namespaces)/OS::RT/resource_types"
            let types = try await c.call(.get, "/image/v2/metadefs/resource_types", token: admin)["resource_types"]?.array ?? []
            let first = try #require(types.first?["name"]?.stringValue)

            let made = try await c.call(.post, path, token: admin, json: ["name": .string(first), "prefix": "hw_", "properties_target": "image"])
            #expect(made.status == .created)
            #expect(made["name"] == .string(first) && made["prefix"] == "hw_" && made["properties_target"] == "image")
            #expect(made["created_at"]?.stringValue?.hasSuffix("Z") == true && made["updated_at"] != nil)
            let again = try await c.call(.post, path, token: admin, json: ["name": .string(first)])
            #expect(again.status == .conflict)

            // A type no one named before is created by its first association, and outlives it.
            let custom = try await c.call(.post, path, token: admin, json: ["name": "OS::Custom::Thing"])
            #expect(custom.status == .created && custom["prefix"] == nil && custom["properties_target"] == nil)
            let listed = try await c.call(.get, path, token: admin)["resource_type_associations"]?.array ?? []
            #expect(listed.compactMap { $0["name"]?.stringValue } == [first, "OS::Custom::Thing"])
            #expect(try await c.call(.delete, "\(path)/OS::Custom::Thing", token: admin).status == .noContent)
            let all = try await c.call(.get, "/image/v2/metadefs/resource_types", token: admin)["resource_types"]?.array ?? []
            #expect(all.last?["name"] == "OS::Custom::Thing" && all.count == types.count + 1)

            #expect(try await c.call(.delete, "\(path)/\(first)", token: admin).status == .noContent)
            #expect(try await c.call(.get, path, token: admin)["resource_type_associations"] == [])
            #expect(try await c.call(.delete, "\(path)/\(first)", token: admin).status == .notFound)
            #expect(try await c.call(.post, "\(Self.namespaces)/OS::None/resource_types", token: admin, json: ["name": .string(first)]).status == .notFound)
            #expect(try await c.call(.get, "\(Self.namespaces)/OS::None/resource_types", token: admin).status == .notFound)
        }
    }

    @Test func theBodyIsCheckedAsGlancesSchemaSays() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            _ = try await c.call(.post, Self.namespaces, token: admin, json: ["namespace": "OS::Body"])
            let path = "\(Self.namespaces)/OS::Body/resource_types"
            for bad: JSON in [[:], ["prefix": "x"], ["name": ""], ["name": .string(String(repeating: "n", count: 81))], ["name": 7],
                              ["name": "OS::Glance::Image", "prefix": .string(String(repeating: "p", count: 81))],
                              ["name": "OS::Glance::Image", "prefix": nil], ["name": "OS::Glance::Image", "colour": "red"]] {
                #expect(try await c.call(.post, path, token: admin, json: bad).status == .badRequest, "\(bad)")
            }
            #expect(try await c.call(.post, path, token: admin, json: ["name": "OS::Glance::Image", "created_at": "x"]).status == .forbidden)
            #expect(try await c.call(.get, path, token: admin)["resource_type_associations"] == [])
        }
    }

    @Test func membersMayReadButNotAssociateAndProtectedNamespacesKeepTheirs() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let ola = try await c.token("ola", "pw", project: m.projectName)
            _ = try await c.call(.post, Self.namespaces, token: admin, json: [
                "namespace": "OS::Kept", "visibility": "public", "protected": true,
                "resource_type_associations": [["name": "OS::Nova::Flavor", "prefix": "hw:"]]])
            let path = "\(Self.namespaces)/OS::Kept/resource_types"
            #expect(try await c.call(.get, path, token: ola)["resource_type_associations"]?.array.first?["prefix"] == "hw:")
            #expect(try await c.call(.post, path, token: ola, json: ["name": "OS::Glance::Image"]).status == .forbidden)
            #expect(try await c.call(.delete, "\(path)/OS::Nova::Flavor", token: ola).status == .forbidden)
            #expect(try await c.call(.post, path, token: admin, json: ["name": "OS::Glance::Image"]).status == .created)
            #expect(try await c.call(.delete, "\(path)/OS::Nova::Flavor", token: admin).status == .forbidden)
            // A private namespace of another project is not there at all.
            _ = try await c.call(.post, Self.namespaces, token: admin, json: ["namespace": "OS::Private"])
            #expect(try await c.call(.get, "\(Self.namespaces)/OS::Private/resource_types", token: ola).status == .notFound)
        }
    }
}
