import BlockStorage
import Compute
import DriverKit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Identity
import Image
import MartletCore
import MartletStore
import MartletTestSupport
import Networking
import ObjectStorage
import Testing

/// Every service on one database, as `martlet serve` wires them.
func fullCloud(_ backend: TestBackend = .sqlite) async throws -> TestCloud {
    let cloud = try await TestCloud.make(
        backend, migrations: ImageService.migrations + NetworkService.migrations + ObjectStorageService.migrations + ComputeService.migrations
            + BlockStorageService.migrations,
        roles: ObjectStorageService.roles + ComputeService.roles, services: { db, config, identity in
        let image = try ImageService(database: db, config: config)
        let network = try NetworkService(database: db, config: config, backend: FakeNetworkBackend(config: config))
        let objects = try ObjectStorageService(database: db, config: config, credentials: identity)
        let volumes = BlockStorageService(database: db, config: config, driver: FakeVolumeDriver(), images: image, objects: objects, projects: identity)
        let compute = ComputeService(database: db, config: config, ports: network, images: image, hypervisor: FakeHypervisor(config: config), volumes: volumes)
        volumes.serverEvents.set(compute)
        return [compute, image, network, objects, volumes]
    })
    try await cloud.blockStorage.start()
    try await cloud.compute.start()
    return cloud
}

extension TestCloud {
    var compute: ComputeService { services.first { $0 is ComputeService } as! ComputeService }
    var blockStorage: BlockStorageService { services.first { $0 is BlockStorageService } as! BlockStorageService }

    /// Every route a policy guards, with the service's path prefix.
    var guardedRoutes: [(method: HTTPRequest.Method, path: String)] {
        var routes: [(HTTPRequest.Method, String)] = []
        for service in [identity as any APIService] + services {
            for route in service.routes {
                let path = route.path.hasPrefix("/") ? route.path : "/" + route.path
                routes.append((route.method, "/\(service.pathPrefix)\(path)"))
            }
        }
        return routes
    }
}

/// One project's resources of every kind, made by its member, and the people around it: its
/// reader, a member of another project, and the admin.
struct Estate: Sendable {
    var admin = "", alice = "", rita = "", bob = ""
    var aliceID = "", ritaID = "", bobID = "", projectA = "", projectB = "", projectAName = ""
    /// Path parameter → A's value; `:id` and the server group's `:group_id` go by the segment before them.
    var byParam: [String: String] = [:]
    var bySegment: [String: String] = [:]
    var account = ""

    /// Every id of A's that no one else should ever be shown.
    var privateIDs: Set<String> {
        Set(byParam.values).union(bySegment.values).subtracting([aliceID, projectA, "k", "t1", "alice-key"])
    }

    func value(_ param: String, after segment: String) -> String? {
        if param == "id" || (param == "group_id" && segment == "os-server-groups") { return bySegment[segment] }
        return byParam[param]
    }

    /// The route's path with A's values in place of its parameters (nil: none of them is A's).
    func fill(_ path: String) -> (path: String, namesA: Bool) {
        var namesA = false
        var previous = ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            defer { previous = String(part) }
            guard part.hasPrefix(":") else { return String(part) }
            if let value = value(String(part.dropFirst()), after: previous) { namesA = true; return value }
            return "x"
        }
        return (parts.joined(separator: "/"), namesA)
    }

    static func make(_ c: Client) async throws -> Estate {
        var e = Estate()
        e.admin = try await c.token()
        let a = try await c.makeMember(admin: e.admin, name: "alice", password: "pw")
        let b = try await c.makeMember(admin: e.admin, name: "bob", password: "pw")
        e.aliceID = a.user; e.projectA = a.project; e.projectAName = a.projectName
        e.bobID = b.user; e.projectB = b.project
        let rita = try await c.call(.post, "/identity/v3/users", token: e.admin, json: ["user": ["name": "rita", "password": "pw"]])
        e.ritaID = try need(rita["user"]?["id"])
        let reader = try need(try await c.call(.get, "/identity/v3/roles?name=reader", token: e.admin)["roles"]?.array.first?["id"])
        try expect(try await c.call(.put, "/identity/v3/projects/\(a.project)/users/\(e.ritaID)/roles/\(reader)", token: e.admin), .noContent)
        e.alice = try await c.token("alice", "pw", project: a.projectName)
        e.bob = try await c.token("bob", "pw", project: b.projectName)
        e.rita = try await c.token("rita", "pw", project: a.projectName)
        let t = e.alice

        // Networking: a network with a subnet, a port, a router on it with a gateway, a group with a rule, a pool, a floating IP.
        let external = try await c.call(.post, "/network/v2.0/networks", token: e.admin, json: ["network": ["name": "public", "router:external": true]])
        let externalID = try need(external["network"]?["id"])
        try expect(try await c.call(.post, "/network/v2.0/subnets", token: e.admin, json: ["subnet": [
            "network_id": .string(externalID), "cidr": "172.24.4.0/24", "ip_version": 4]]), .created)
        let network = try need(try await c.call(.post, "/network/v2.0/networks", token: t, json: ["network": ["name": "a-net"]])["network"]?["id"])
        let subnet = try need(try await c.call(.post, "/network/v2.0/subnets", token: t, json: ["subnet": [
            "network_id": .string(network), "cidr": "10.40.0.0/24", "ip_version": 4, "name": "a-subnet"]])["subnet"]?["id"])
        let port = try need(try await c.call(.post, "/network/v2.0/ports", token: t, json: ["port": ["network_id": .string(network), "name": "a-port"]])["port"]?["id"])
        let router = try need(try await c.call(.post, "/network/v2.0/routers", token: t, json: ["router": [
            "name": "a-router", "external_gateway_info": ["network_id": .string(externalID)]]])["router"]?["id"])
        try expect(try await c.call(.put, "/network/v2.0/routers/\(router)/add_router_interface", token: t, json: ["subnet_id": .string(subnet)]), .ok)
        let group = try need(try await c.call(.post, "/network/v2.0/security-groups", token: t, json: ["security_group": ["name": "a-group"]])["security_group"]?["id"])
        let rule = try need(try await c.call(.post, "/network/v2.0/security-group-rules", token: t, json: ["security_group_rule": [
            "security_group_id": .string(group), "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22]])["security_group_rule"]?["id"])
        let pool = try need(try await c.call(.post, "/network/v2.0/subnetpools", token: t, json: ["subnetpool": [
            "name": "a-pool", "prefixes": ["10.99.0.0/16"], "default_prefixlen": 24]])["subnetpool"]?["id"])
        let fip = try need(try await c.call(.post, "/network/v2.0/floatingips", token: t, json: ["floatingip": ["floating_network_id": .string(externalID)]])["floatingip"]?["id"])

        // Image: a private image with data, a tag and a member (B is not one).
        let image = try need(try await c.call(.post, "/image/v2/images", token: t, json: [
            "name": "a-image", "disk_format": "raw", "container_format": "bare", "visibility": "private"])["id"])
        try expect(try await c.call(.put, "/image/v2/images/\(image)/file", token: t, raw: Array("disk".utf8),
                                    headers: ["Content-Type": "application/octet-stream"]), .noContent)
        try expect(try await c.call(.put, "/image/v2/images/\(image)/tags/t1", token: t), .noContent)

        // Compute: a key pair, a server group, a server with metadata and a tag.
        try expect(try await c.call(.post, "/compute/v2.1/os-keypairs", token: t, json: ["keypair": ["name": "alice-key"]]), .ok)
        let serverGroup = try need(try await c.call(.post, "/compute/v2.1/os-server-groups", token: t, json: ["server_group": [
            "name": "a-group", "policies": ["anti-affinity"]]])["server_group"]?["id"])
        let server = try need(try await c.call(.post, "/compute/v2.1/servers", token: t, json: ["server": [
            "name": "a-server", "imageRef": .string(image), "flavorRef": "42", "networks": [["uuid": .string(network)]],
            "metadata": ["k": "v"], "key_name": "alice-key"]])["server"]?["id"])

        // Block Storage: a volume with metadata, a snapshot of it, and a pending transfer of another volume.
        let volume = try need(try await c.call(.post, "/volume/v3/volumes", token: t, json: ["volume": ["size": 1, "name": "a-volume",
                                                                                                          "metadata": ["k": "v"]]])["volume"]?["id"])
        let offered = try need(try await c.call(.post, "/volume/v3/volumes", token: t, json: ["volume": ["size": 1, "name": "a-offered"]])["volume"]?["id"])
        for id in [volume, offered] { try await available(c, t, "volumes", id) }
        let snapshot = try need(try await c.call(.post, "/volume/v3/snapshots", token: t, json: ["snapshot": ["volume_id": .string(volume)]])["snapshot"]?["id"])
        let transfer = try need(try await c.call(.post, "/volume/v3/os-volume-transfer", token: t, json: ["transfer": ["volume_id": .string(offered)]])["transfer"]?["id"])
        try await available(c, t, "snapshots", snapshot)

        // Identity: an application credential and an EC2 credential of alice's.
        let appCred = try need(try await c.call(.post, "/identity/v3/users/\(a.user)/application_credentials", token: t,
                                                json: ["application_credential": ["name": "a-cred"]])["application_credential"]?["id"])
        let ec2 = try await c.call(.post, "/identity/v3/users/\(a.user)/credentials/OS-EC2", token: t, json: ["tenant_id": .string(a.project)])
        let access = try need(ec2["credential"]?["access"])
        let credential = try need(try await c.call(.get, "/identity/v3/credentials", token: t)["credentials"]?.array.first?["id"])

        // Object storage: a container with an object.
        e.account = "/object-store/v1/AUTH_\(a.project)"
        try expect(try await c.call(.put, "\(e.account)/a-box", token: t), .created)
        try expect(try await c.call(.put, "\(e.account)/a-box/a-object", token: t, raw: Array("secret".utf8)), .created)

        e.byParam = ["server_id": server, "image_id": image, "project_id": a.project, "user_id": a.user, "credential_id": credential,
                     "access": access, "name": "alice-key", "key": "k", "tag": "t1", "port_id": port, "network": "a-net",
                     "volume_id": volume, "snapshot_id": snapshot, "transfer_id": transfer]
        e.bySegment = ["networks": network, "subnets": subnet, "ports": port, "routers": router, "security-groups": group,
                       "security-group-rules": rule, "subnetpools": pool, "floatingips": fip, "os-security-groups": group,
                       "os-security-group-rules": rule, "os-server-groups": serverGroup, "application_credentials": appCred]
        return e
    }

    /// What an admin sees of every resource of A's, to compare before and after the others tried.
    func snapshot(_ c: Client) async throws -> [String: String] {
        var views: [String: String] = [:]
        let reads = [
            "/compute/v2.1/servers/\(byParam["server_id"]!)", "/compute/v2.1/os-server-groups/\(bySegment["os-server-groups"]!)",
            "/compute/v2.1/os-keypairs/alice-key?user_id=\(aliceID)", "/compute/v2.1/servers/\(byParam["server_id"]!)/os-interface",
            "/image/v2/images/\(byParam["image_id"]!)", "/identity/v3/projects/\(projectA)", "/identity/v3/users/\(aliceID)",
            "/identity/v3/credentials/\(byParam["credential_id"]!)", "/identity/v3/projects/\(projectA)/users/\(aliceID)/roles",
            "/volume/v3/volumes/\(byParam["volume_id"]!)", "/volume/v3/snapshots/\(byParam["snapshot_id"]!)",
            "/volume/v3/os-volume-transfer/\(byParam["transfer_id"]!)",
        ] + ["networks", "subnets", "ports", "routers", "security-groups", "security-group-rules", "subnetpools", "floatingips"]
            .map { "/network/v2.0/\($0)/\(bySegment[$0]!)" }
        for path in reads {
            let reply = try await c.call(.get, path, token: admin)
            views[path] = "\(reply.status.code) " + Self.stable(reply.body)
        }
        for path in ["\(account)?format=json", "\(account)/a-box?format=json", "\(account)/a-box/a-object"] {
            let reply = try await c.call(.get, path, token: admin)
            views[path] = "\(reply.status.code) " + (path.hasSuffix("a-object") ? String(decoding: reply.bytes, as: UTF8.self)
                                                     : Self.stable(reply.body))
        }
        return views
    }

    /// Records an issue for every resource of A's whose admin view differs from `before`.
    func expectUnchanged(_ before: [String: String], _ c: Client, by whom: String) async throws {
        let after = try await snapshot(c)
        for (path, view) in before where after[path] != view {
            Issue.record("\(path) changed by \(whom): \(view.prefix(300)) → \(after[path]?.prefix(300) ?? "")")
        }
    }

    /// A body as text (nothing of A's changes on its own once its server has settled).
    static func stable(_ json: JSON?) -> String { json?.text ?? "" }
}

/// Waits (5 s at most) for a volume or snapshot the fake driver is making.
func available(_ c: Client, _ token: String, _ kind: String, _ id: String) async throws {
    for _ in 0..<250 {
        let reply = try await c.call(.get, "/volume/v3/\(kind)/\(id)", token: token)
        if reply[String(kind.dropLast())]?["status"] == "available" { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("\(kind) \(id) never became available")
}

func need(_ value: JSON?, _ what: String = "id") throws -> String {
    guard let text = value?.stringValue, !text.isEmpty else { throw TestFailure("set-up could not read \(what)") }
    return text
}

func expect(_ reply: Reply, _ status: HTTPResponse.Status) throws {
    guard reply.status == status else { throw TestFailure("set-up got \(reply.status), wanted \(status): \(reply.body?.text ?? "")") }
}
