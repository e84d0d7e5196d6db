import DriverKit
import Hummingbird
import MartletCore

/// Version discovery: `/compute` lists v2.0 and v2.1; `/compute/v2.1` describes the current one.
struct VersionRoutes {
    let service: ComputeService

    func register(_ group: RouterGroup<MartletContext>) {
        let list: @Sendable (Request, MartletContext) async throws -> Response = { _, _ in
            .json(.ok, ["versions": [version("v2.0"), version("v2.1")]])
        }
        group.get("", use: list)
        // Nova's extension list survives for old clients; every feature here is core.
        group.get("/v2.1/extensions") { _, context -> Response in
            _ = try context.requireAuth()
            return Response.json(.ok, ["extensions": .array(Self.extensions.map(describe))])
        }
        group.get("/v2.1/extensions/:alias") { _, context -> Response in
            _ = try context.requireAuth()
            let alias = context.parameters.get("alias") ?? ""
            guard Self.extensions.contains(where: { $0.alias == alias }) else { throw APIError.notFound("The resource could not be found.") }
            return Response.json(.ok, ["extension": describe(Self.extensions.first { $0.alias == alias }!)])
        }
        group.get("/v2.1") { _, _ -> Response in Response.json(.ok, ["version": version("v2.1", full: true)]) }
        group.get("/v2") { _, _ -> Response in Response.json(.ok, ["version": version("v2.0", full: true)]) }
    }

    static let extensions: [(alias: String, name: String)] = [
        ("os-admin-actions", "AdminActions"), ("os-aggregates", "Aggregates"), ("os-availability-zone", "AvailabilityZone"),
        ("os-extended-server-attributes", "ExtendedServerAttributes"), ("os-extended-status", "ExtendedStatus"),
        ("os-flavor-access", "FlavorAccess"), ("os-flavor-extra-specs", "FlavorExtraSpecs"), ("os-flavor-manage", "FlavorManage"),
        ("os-hosts", "Hosts"), ("os-hypervisors", "Hypervisors"), ("os-consoles", "Consoles"), ("os-instance-actions", "InstanceActions"), ("os-keypairs", "Keypairs"),
        ("os-lock-server", "LockServer"), ("os-migrate-server", "MigrateServer"), ("os-migrations", "Migrations"),
        ("os-pause-server", "PauseServer"), ("os-quota-sets", "Quotas"), ("os-rescue", "Rescue"),
        ("os-server-groups", "ServerGroups"), ("os-services", "Services"), ("os-shelve", "Shelve"),
        ("os-simple-tenant-usage", "SimpleTenantUsage"), ("os-suspend-server", "SuspendServer"), ("servers", "Servers"),
    ]

    private func describe(_ e: (alias: String, name: String)) -> JSON {
        ["alias": .string(e.alias), "name": .string(e.name), "namespace": .string("http://docs.openstack.org/compute/ext/fake_xml"),
         "description": .string(e.name + " support."), "updated": "2014-12-03T00:00:00Z", "links": []]
    }

    private func version(_ id: String, full: Bool = false) -> JSON {
        let current = id == "v2.1"
        var doc: [String: JSON] = [
            "id": .string(id), "status": current ? "CURRENT" : "SUPPORTED",
            "version": current ? .string(ComputeService.versions.maximum.description) : "",
            "min_version": current ? .string(ComputeService.versions.minimum.description) : "",
            "updated": current ? "2013-07-23T11:33:21Z" : "2011-01-21T11:33:21Z",
            "links": [["rel": "self", "href": .string("\(service.links.base)/\(current ? "v2.1" : "v2")/")]],
        ]
        if full {
            doc["media-types"] = [["base": "application/json",
                                   "type": .string("application/vnd.openstack.compute+json;version=\(current ? "2.1" : "2")")]]
            doc["links"] = .array(doc["links"]!.array + [["rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"]])
        }
        return .object(doc)
    }
}
