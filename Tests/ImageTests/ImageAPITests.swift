import Foundation
@testable import Image
import MartletCore
import MartletTestSupport
import Testing

@Suite struct ImageAPITests {
    @Test func createValidatesAndPatchFollowsGlanceRules() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["disk_format": "floppy"]).status == .badRequest)
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["status": "active"]).status == .forbidden)
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["id": "not-a-uuid"]).status == .badRequest)
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["min_ram": -1]).status == .badRequest)
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["color": 5]).status == .badRequest)
            #expect(try await c.call(.post, "/image/v2/images", token: admin, raw: Array("{".utf8)).status == .badRequest)
            let id = try await c.createImage(admin, ["name": "a", "color": "blue", "tags": ["x"], "id": "11111111-2222-4333-8444-555555555555"])
            #expect(id == "11111111-2222-4333-8444-555555555555")
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["id": .string(id)]).status == .conflict)

            let patched = try await c.patch(admin, id, [
                ["op": "replace", "path": "/name", "value": "b"], ["op": "add", "path": "/size_hint", "value": "big"],
                ["op": "remove", "path": "/color"], ["replace": "/min_ram", "value": 512],
            ])
            #expect(patched.status == .ok)
            #expect(patched["name"] == "b" && patched["size_hint"] == "big" && patched["color"] == nil && patched["min_ram"] == 512)
            #expect(try await c.patch(admin, id, [["op": "replace", "path": "/status", "value": "active"]]).status == .forbidden)
            #expect(try await c.patch(admin, id, [["op": "remove", "path": "/name"]]).status == .forbidden)
            #expect(try await c.patch(admin, id, [["op": "replace", "path": "/missing", "value": "x"]]).status == .conflict)
            #expect(try await c.patch(admin, id, [["op": "move", "path": "/name"]]).status == .badRequest)
            #expect(try await c.call(.patch, "/image/v2/images/\(id)", token: admin, json: []).status == .unsupportedMediaType)
            #expect(try await c.call(.put, "/image/v2/images/\(id)/tags/t2", token: admin).status == .noContent)
            #expect(Set(try await c.call(.get, "/image/v2/images/\(id)", token: admin)["tags"]?.array ?? []) == ["x", "t2"])
            #expect(try await c.call(.delete, "/image/v2/images/\(id)/tags/zz", token: admin).status == .notFound)

            #expect(try await c.patch(admin, id, [["op": "replace", "path": "/protected", "value": true]]).status == .ok)
            #expect(try await c.call(.delete, "/image/v2/images/\(id)", token: admin).status == .forbidden)
            #expect(try await c.patch(admin, id, [["op": "replace", "path": "/protected", "value": false]]).status == .ok)
            #expect(try await c.call(.delete, "/image/v2/images/\(id)", token: admin).status == .noContent)
            let gone = try await c.call(.get, "/image/v2/images/\(id)", token: admin)
            #expect(gone.status == .notFound)
            #expect(String(decoding: gone.bytes, as: UTF8.self).hasPrefix("404 Not Found"))
        }
    }

    @Test func listingFiltersSortsAndPages() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            for i in 0..<7 {
                _ = try await c.createImage(admin, ["name": .string("img-\(i)"), "disk_format": i % 2 == 0 ? "raw" : "qcow2",
                                                    "container_format": "bare", "tags": i < 3 ? ["low"] : ["high"], "tier": .string(i == 6 ? "gold" : "std")])
            }
            let first = try await c.call(.get, "/image/v2/images?limit=3&sort=name:asc", token: admin)
            #expect(first["images"]?.array.map { $0["name"] } == ["img-0", "img-1", "img-2"])
            let next = try #require(first["next"]?.stringValue)
            let second = try await c.call(.get, "/image" + next, token: admin)
            #expect(second["images"]?.array.map { $0["name"] } == ["img-3", "img-4", "img-5"])
            #expect(try await c.call(.get, "/image/v2/images?disk_format=qcow2", token: admin)["images"]?.array.count == 3)
            #expect(try await c.call(.get, "/image/v2/images?tag=low&disk_format=raw", token: admin)["images"]?.array.count == 2)
            #expect(try await c.call(.get, "/image/v2/images?tier=gold", token: admin)["images"]?.array.map { $0["name"] } == ["img-6"])
            #expect(try await c.call(.get, "/image/v2/images?name=in:img-1,img-2&sort_key=name&sort_dir=desc", token: admin)["images"]?.array.map { $0["name"] } == ["img-2", "img-1"])
            #expect(try await c.call(.get, "/image/v2/images?created_at=gt:2000-01-01T00:00:00Z", token: admin)["images"]?.array.count == 7)
            #expect(try await c.call(.get, "/image/v2/images?sort_key=color", token: admin).status == .badRequest)
            #expect(try await c.call(.get, "/image/v2/images?limit=-1", token: admin).status == .badRequest)
            #expect(try await c.call(.get, "/image/v2/images?marker=nope", token: admin).status == .badRequest)
            #expect(try await c.call(.get, "/image/v2/images?created_at=soon:2000", token: admin).status == .badRequest)
        }
    }

    @Test func visibilitySharingAndDeactivation() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ann", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "ben", password: "pw")
            let ann = try await c.token("ann", "pw", project: a.projectName)
            let ben = try await c.token("ben", "pw", project: b.projectName)

            let privateImage = try await c.createImage(ann, ["name": "mine", "visibility": "private"])
            let shared = try await c.createImage(ann, ["name": "shared", "disk_format": "raw", "container_format": "bare"])
            let community = try await c.createImage(ann, ["name": "comm", "visibility": "community"])
            #expect(try await c.call(.post, "/image/v2/images", token: ann, json: ["visibility": "public"]).status == .forbidden)
            #expect(try await c.call(.get, "/image/v2/images/\(privateImage)", token: ben).status == .notFound)
            #expect(try await c.call(.get, "/image/v2/images/\(community)", token: ben).status == .ok)
            #expect(try await c.call(.get, "/image/v2/images", token: ben)["images"]?.array.count == 0)
            #expect(try await c.call(.get, "/image/v2/images?visibility=community", token: ben)["images"]?.array.map { $0["name"] } == ["comm"])
            #expect(try await c.call(.patch, "/image/v2/images/\(community)", token: ben, json: [],
                                     headers: ["Content-Type": "application/openstack-images-v2.1-json-patch"]).status == .forbidden)

            #expect(try await c.call(.post, "/image/v2/images/\(privateImage)/members", token: ann, json: ["member": .string(b.project)]).status == .forbidden)
            let added = try await c.call(.post, "/image/v2/images/\(shared)/members", token: ann, json: ["member": .string(b.project)])
            #expect(added.status == .ok && added["status"] == "pending")
            #expect(try await c.call(.post, "/image/v2/images/\(shared)/members", token: ann, json: ["member": .string(b.project)]).status == .conflict)
            #expect(try await c.call(.get, "/image/v2/images/\(shared)", token: ben).status == .ok)
            #expect(try await c.call(.get, "/image/v2/images", token: ben)["images"]?.array.count == 0)
            #expect(try await c.call(.get, "/image/v2/images?member_status=pending&visibility=shared", token: ben)["images"]?.array.count == 1)
            // Only the member decides its status.
            #expect(try await c.call(.put, "/image/v2/images/\(shared)/members/\(b.project)", token: ann, json: ["status": "accepted"]).status == .forbidden)
            #expect(try await c.call(.put, "/image/v2/images/\(shared)/members/\(b.project)", token: ben, json: ["status": "maybe"]).status == .badRequest)
            #expect(try await c.call(.put, "/image/v2/images/\(shared)/members/\(b.project)", token: ben, json: ["status": "accepted"])["status"] == "accepted")
            #expect(try await c.call(.get, "/image/v2/images", token: ben)["images"]?.array.map { $0["name"] } == ["shared"])
            #expect(try await c.call(.get, "/image/v2/images/\(shared)/members", token: ben)["members"]?.array.count == 1)

            #expect(try await c.upload(ann, shared, [9, 9, 9]).status == .noContent)
            #expect(try await c.call(.post, "/image/v2/images/\(shared)/actions/deactivate", token: ben).status == .forbidden)
            #expect(try await c.call(.post, "/image/v2/images/\(shared)/actions/deactivate", token: ann).status == .noContent)
            #expect(try await c.call(.get, "/image/v2/images/\(shared)/file", token: ben).status == .forbidden)
            #expect(try await c.call(.get, "/image/v2/images/\(shared)/file", token: admin).bytes == [9, 9, 9])
            #expect(try await c.call(.post, "/image/v2/images/\(shared)/actions/reactivate", token: ann).status == .noContent)
            #expect(try await c.call(.get, "/image/v2/images/\(shared)/file", token: ben).bytes == [9, 9, 9])
            #expect(try await c.call(.delete, "/image/v2/images/\(shared)/members/\(b.project)", token: ann).status == .noContent)
            #expect(try await c.call(.get, "/image/v2/images/\(shared)", token: ben).status == .notFound)

            // A reader reads but cannot create.
            let r = try await c.makeMember(admin: admin, name: "rae", password: "pw", role: "reader")
            let rae = try await c.token("rae", "pw", project: r.projectName)
            #expect(try await c.call(.get, "/image/v2/images", token: rae).status == .ok)
            #expect(try await c.call(.post, "/image/v2/images", token: rae, json: ["name": "x"]).status == .forbidden)
        }
    }

    @Test func everyRouteNeedsAToken() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let routes = cloud.image.routes
            #expect(routes.count > 40)
            for route in routes {
                #expect(route.rule != nil && ImagePolicy.table.rules[route.rule!] != nil, "\(route.method) \(route.path) has no rule")
                let path = "/image/" + route.path.split(separator: "/").map { $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/")
                let reply = try await c.call(route.method, path, json: [:])
                #expect(reply.status == .unauthorized, "\(route.method) \(route.path) answered \(reply.status) without a token")
            }
            #expect(try await c.call(.get, "/image")["versions"]?.array.first?["status"] == "CURRENT")
        }
    }

    @Test func metadataDefinitions() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let ns = try await c.call(.post, "/image/v2/metadefs/namespaces", token: admin, json: [
                "namespace": "OS::Test", "visibility": "public", "protected": true,
                "resource_type_associations": [["name": "OS::Glance::Image"]]])
            #expect(ns.status == .created)
            #expect(try await c.call(.post, "/image/v2/metadefs/namespaces/OS::Test/properties", token: admin,
                                     json: ["name": "hw_rng", "title": "RNG", "type": "boolean"]).status == .created)
            #expect(try await c.call(.post, "/image/v2/metadefs/namespaces/OS::Test/objects", token: admin, json: ["name": "cpu"]).status == .created)
            #expect(try await c.call(.post, "/image/v2/metadefs/namespaces/OS::Test/tags", token: admin, json: ["tags": [["name": "a"], ["name": "b"]]]).status == .created)
            let shown = try await c.call(.get, "/image/v2/metadefs/namespaces/OS::Test", token: admin)
            #expect(shown["properties"]?["hw_rng"]?["title"] == "RNG")
            #expect(shown["objects"]?.array.count == 1 && shown["tags"]?.array.count == 2)
            #expect(try await c.call(.delete, "/image/v2/metadefs/namespaces/OS::Test", token: admin).status == .forbidden)
            #expect(try await c.call(.put, "/image/v2/metadefs/namespaces/OS::Test", token: admin, json: ["namespace": "OS::Test", "protected": false]).status == .ok)
            #expect(try await c.call(.delete, "/image/v2/metadefs/namespaces/OS::Test", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/image/v2/schemas/metadefs/resource_type", token: admin)["name"] == "resource_type_association")
        }
    }

    /// Glance replaces a namespace's tags on POST unless `X-OpenStack-Append: True` asks to add.
    @Test func metadefTagsAreReplacedUnlessAppended() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            #expect(try await c.call(.post, "/image/v2/metadefs/namespaces", token: admin, json: ["namespace": "OS::Tags"]).status == .created)
            let tags = "/image/v2/metadefs/namespaces/OS::Tags/tags"
            func names() async throws -> [String] {
                (try await c.call(.get, tags, token: admin)["tags"]?.array ?? []).compactMap { $0["name"]?.stringValue }.sorted()
            }
            #expect(try await c.call(.post, tags, token: admin, json: ["tags": [["name": "a"], ["name": "b"]]]).status == .created)
            for header in [["X-OpenStack-Append": "False"], [:]] {
                let replaced = try await c.call(.post, tags, token: admin, json: ["tags": [["name": "b"], ["name": "c"]]], headers: header)
                #expect(replaced.status == .created, "\(header): \(replaced.status)")
                #expect(try await names() == ["b", "c"])
            }
            #expect(try await c.call(.post, tags, token: admin, json: ["tags": [["name": "d"]]], headers: ["X-OpenStack-Append": "True"]).status == .created)
            #expect(try await names() == ["b", "c", "d"])
            #expect(try await c.call(.post, tags, token: admin, json: ["tags": [["name": "d"]]], headers: ["X-OpenStack-Append": "True"]).status == .conflict)
        }
    }

    /// Rules a project member passes for an image another project owns and shares with it; written
    /// out here, not read from the table, so that loosening the table fails this test.
    static let openToOtherProjects: Set<String> = [
        "image:get_images", "image:add_image", "image:get_image", "image:download_image", "image:get_members", "image:get_member",
        "image:modify_member", "image:get_info", "image:get_schema", "image:get_metadef", "image:get_tasks",
    ]

    @Test func routeByRouteAnotherProjectCannotManage() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "per", password: "pw")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let per = try await c.token("per", "pw", project: b.projectName)
            let id = try await c.createImage(ola)
            _ = try await c.call(.put, "/image/v2/images/\(id)/tags/t", token: ola)
            _ = try await c.call(.post, "/image/v2/images/\(id)/members", token: ola, json: ["member": .string(b.project)])
            _ = try await c.call(.put, "/image/v2/images/\(id)/members/\(b.project)", token: per, json: ["status": "accepted"])
            _ = try await c.call(.post, "/image/v2/metadefs/namespaces", token: admin, json: ["namespace": "ns", "visibility": "public"])
            let values = ["image_id": id, "member_id": b.project, "tag": "t", "namespace": "ns", "name": "x"]
            for route in cloud.image.routes {
                let rule = try #require(route.rule)
                let path = "/image/" + route.path.split(separator: "/").map { part in
                    part.hasPrefix(":") ? values[String(part.dropFirst())] ?? "x" : String(part)
                }.joined(separator: "/")
                let reply = try await c.call(route.method, path, token: per, json: [:])
                if !Self.openToOtherProjects.contains(rule) {
                    #expect(reply.status == .forbidden || reply.status == .notFound,
                            "\(route.method) \(route.path) (\(rule)) let another project through: \(reply.status)")
                }
            }
            // The owner's image is untouched.
            let image = try await c.call(.get, "/image/v2/images/\(id)", token: ola)
            #expect(image["status"] == "queued" && image["tags"] == ["t"])
        }
    }
}
