import Foundation
import HTTPTypes
import MartletCore
import MartletTestSupport
import Networking
import Testing

/// Every route of every service, tried on one project's resources by a member of another project
/// and by the project's own reader. The routes come from the routers, so a new route is tried the
/// day it is added: it must refuse them, show them nothing of A's, and change nothing of A's.
@Suite struct TenantIsolationTests {
    /// Statuses that refuse without having done anything.
    static let refusals: Set<Int> = [400, 401, 403, 404, 405, 406, 413]

    /// Writes a reader of A may make: on itself only, never on A's resources (key pairs are the
    /// user's own in Nova, not the project's).
    static let readerSelfService: Set<String> = ["POST /identity/v3/auth/tokens", "POST /compute/v2.1/os-keypairs"]

    /// Routes naming A's project that another project may read: Nova shows every project the same defaults.
    static let openToAll: Set<String> = ["GET /compute/v2.1/os-quota-sets/:project_id/defaults"]

    @Test(arguments: TestBackend.available)
    func anotherProjectAndAReaderAreRefusedEverywhere(_ backend: TestBackend) async throws {
        let cloud = try await fullCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let e = try await Estate.make(c)
            await cloud.compute.settle()
            let before = try await e.snapshot(c)
            var tried = 0
            for route in cloud.guardedRoutes {
                let (path, namesA) = e.fill(route.path)
                let body: [UInt8]? = [.post, .put, .patch].contains(route.method) ? Array("{}".utf8) : nil
                // B's member, on A's resources.
                let reply = try await c.call(route.method, path, token: e.bob, raw: body)
                tried += 1
                #expect(reply.status.code < 500, "\(route.method) \(route.path) failed for another project's member: \(reply.status) \(reply.body?.text.prefix(200) ?? "")")
                if namesA, !Self.openToAll.contains("\(route.method) \(route.path)") {
                    #expect(Self.refusals.contains(Int(reply.status.code)),
                            "\(route.method) \(route.path) let another project's member in: \(reply.status) \(reply.body?.text.prefix(200) ?? "")")
                }
                let shown = String(decoding: reply.bytes, as: UTF8.self)
                for id in e.privateIDs where !path.contains(id) && shown.contains(id) {
                    Issue.record("\(route.method) \(route.path) showed another project's member A's \(id)")
                }
                // A's reader: no write of any kind.
                if ![.get, .head].contains(route.method), !Self.readerSelfService.contains("\(route.method) \(route.path)") {
                    let write = try await c.call(route.method, path, token: e.rita, raw: body)
                    #expect(write.status.code < 500, "reader \(route.method) \(route.path) failed: \(write.status)")
                    #expect(Self.refusals.contains(Int(write.status.code)),
                            "reader \(route.method) \(route.path) answered \(write.status) \(write.body?.text.prefix(200) ?? "")")
                }
            }
            #expect(tried > 400, "only \(tried) routes were enumerated")
            await cloud.compute.settle()
            try await e.expectUnchanged(before, c, by: "others")
        }
    }

    /// Writes a reader of A would make if it could, with bodies that would pass validation.
    @Test func readersWriteNothingWithValidBodies() async throws {
        let cloud = try await fullCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let e = try await Estate.make(c)
            await cloud.compute.settle()
            let before = try await e.snapshot(c)
            let server = e.byParam["server_id"]!, image = e.byParam["image_id"]!, network = e.bySegment["networks"]!
            let writes: [(HTTPRequest.Method, String, JSON)] = [
                (.post, "/compute/v2.1/servers", ["server": ["name": "r", "imageRef": .string(image), "flavorRef": "42", "networks": "none"]]),
                (.post, "/compute/v2.1/servers/\(server)/action", ["os-stop": .null]),
                (.post, "/compute/v2.1/servers/\(server)/action", ["createImage": ["name": "snap"]]),
                (.put, "/compute/v2.1/servers/\(server)", ["server": ["name": "renamed"]]),
                (.put, "/compute/v2.1/servers/\(server)/metadata/k", ["meta": ["k": "changed"]]),
                (.delete, "/compute/v2.1/servers/\(server)", .null),
                (.post, "/network/v2.0/networks", ["network": ["name": "r-net"]]),
                (.put, "/network/v2.0/networks/\(network)", ["network": ["name": "renamed"]]),
                (.post, "/network/v2.0/ports", ["port": ["network_id": .string(network)]]),
                (.delete, "/network/v2.0/ports/\(e.bySegment["ports"]!)", .null),
                (.put, "/network/v2.0/routers/\(e.bySegment["routers"]!)/remove_router_interface", ["subnet_id": .string(e.bySegment["subnets"]!)]),
                (.post, "/network/v2.0/security-group-rules", ["security_group_rule": [
                    "security_group_id": .string(e.bySegment["security-groups"]!), "direction": "ingress", "protocol": "icmp"]]),
                (.post, "/image/v2/images", ["name": "r-image", "disk_format": "raw", "container_format": "bare"]),
                (.patch, "/image/v2/images/\(image)", [["op": "replace", "path": "/name", "value": "renamed"]]),
                (.delete, "/image/v2/images/\(image)", .null),
                (.post, "/volume/v3/volumes", ["volume": ["size": 1]]),
                (.post, "/volume/v3/volumes/\(e.byParam["volume_id"]!)/action", ["os-extend": ["new_size": 2]]),
                (.post, "/volume/v3/volumes/\(e.byParam["volume_id"]!)/action", ["os-set_bootable": ["bootable": true]]),
                (.put, "/volume/v3/volumes/\(e.byParam["volume_id"]!)", ["volume": ["name": "renamed"]]),
                (.delete, "/volume/v3/volumes/\(e.byParam["volume_id"]!)/metadata/k", .null),
                (.post, "/volume/v3/snapshots", ["snapshot": ["volume_id": .string(e.byParam["volume_id"]!)]]),
                (.delete, "/volume/v3/snapshots/\(e.byParam["snapshot_id"]!)", .null),
                (.delete, "/volume/v3/os-volume-transfer/\(e.byParam["transfer_id"]!)", .null),
                (.post, "/compute/v2.1/servers/\(server)/os-volume_attachments", ["volumeAttachment": ["volumeId": .string(e.byParam["volume_id"]!)]]),
            ]
            for (method, path, body) in writes {
                let headers = method == .patch ? ["Content-Type": "application/openstack-images-v2.1-json-patch"] : [:]
                let reply = try await c.call(method, path, token: e.rita, json: body == .null ? nil : body, headers: headers)
                #expect(reply.status == .forbidden || reply.status == .notFound, "reader \(method) \(path) answered \(reply.status)")
            }
            await cloud.compute.settle()
            try await e.expectUnchanged(before, c, by: "a reader")
        }
    }

    /// Reads upstream keeps for admins: Neutron's agents (the cloud's hosts) and Glance's tasks.
    @Test func adminOnlyReadsStayAdminOnly() async throws {
        let cloud = try await fullCloud()
        defer { Task { await cloud.close() } }
        // Started as `martlet serve` starts it, so that the data plane's hosts have agents to hide.
        try await (cloud.services.first { $0 is NetworkService } as! NetworkService).converge()
        try await cloud.serve { c in
            let e = try await Estate.make(c)
            for path in ["/network/v2.0/agents", "/image/v2/tasks", "/compute/v2.1/os-hypervisors", "/compute/v2.1/os-services",
                         "/identity/v3/users", "/compute/v2.1/servers/detail?all_tenants=1&project_id=\(e.projectA)"] {
                let reply = try await c.call(.get, path, token: e.bob)
                let shown = String(decoding: reply.bytes, as: UTF8.self)
                #expect(reply.status == .forbidden || !e.privateIDs.contains { shown.contains($0) },
                        "a member read \(path): \(reply.status)")
                if path.contains("agents") {
                    // Neutron filters the agent list rather than refusing it: empty, nothing of the hosts.
                    #expect(reply.status == .ok && reply["agents"] == [] && !shown.contains("fake-"), "a member read \(path): \(shown)")
                } else if !path.contains("servers") {
                    #expect(reply.status == .forbidden, "a member read \(path): \(reply.status)")
                }
            }
            let agents = try await c.call(.get, "/network/v2.0/agents", token: e.admin)
            #expect(agents.status == .ok && agents["agents"]?.array.isEmpty == false)
            #expect(try await c.call(.get, "/image/v2/tasks", token: e.admin).status == .ok)
        }
    }

    /// Swift's routes take any path under the account: each verb on A's account, container and object.
    @Test func anotherProjectCannotReachTheObjectStore() async throws {
        let cloud = try await fullCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let e = try await Estate.make(c)
            let before = try await e.snapshot(c)
            let copy = HTTPRequest.Method("COPY")!
            for path in [e.account, "\(e.account)/a-box", "\(e.account)/a-box/a-object", "\(e.account)/a-box/new"] {
                for method in [HTTPRequest.Method.get, .head, .put, .post, .delete] + (path.hasSuffix("object") ? [copy] : []) {
                    var headers: [String: String] = [:]
                    if method == copy { headers["Destination"] = "a-box/copied" }
                    let reply = try await c.call(method, path, token: e.bob, raw: method == .put ? Array("x".utf8) : nil, headers: headers)
                    #expect(reply.status == .forbidden, "\(method) \(path) as another project answered \(reply.status)")
                }
            }
            // Reading A's object through B's own account: copies and symlinks are checked too.
            let bAccount = "/object-store/v1/AUTH_\(e.projectB)"
            #expect(try await c.call(.put, "\(bAccount)/b-box", token: e.bob).status == .created)
            let pulled = try await c.call(.put, "\(bAccount)/b-box/pulled", token: e.bob, raw: [],
                                          headers: ["X-Copy-From": "a-box/a-object", "X-Copy-From-Account": "AUTH_\(e.projectA)"])
            #expect(pulled.status == .forbidden, "copy from another account answered \(pulled.status)")
            #expect(try await c.call(.put, "\(bAccount)/b-box/link", token: e.bob, raw: [],
                                     headers: ["X-Symlink-Target": "a-box/a-object", "X-Symlink-Target-Account": "AUTH_\(e.projectA)"]).status == .created)
            let followed = try await c.call(.get, "\(bAccount)/b-box/link", token: e.bob)
            #expect(followed.status == .forbidden && !String(decoding: followed.bytes, as: UTF8.self).contains("secret"))
            try await e.expectUnchanged(before, c, by: "another project")
        }
    }
}
