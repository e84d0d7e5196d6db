import Hummingbird
import MartletCore

/// Version discovery, `/v2.0/extensions`, service providers and availability zones.
struct DiscoveryRoutes {
    let service: NetworkService

    /// The extensions implemented, by alias. Clients and tempest decide what to call from this list,
    /// so it names only what works.
    static let extensions: [(alias: String, name: String, description: String)] = [
        ("address-scope", "Address scope", "Address scopes extension."),
        ("agent", "agent", "The agent management extension."),
        ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
        ("availability_zone", "Availability Zone", "The availability zone extension."),
        ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
        ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
        ("dhcp_agent_scheduler", "DHCP Agent Scheduler", "Schedule networks among dhcp agents"),
        ("dvr", "Distributed Virtual Router", "Enables configuration of Distributed Virtual Routers."),
        ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
        ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
        ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
        ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
        ("filter-validation", "Filter parameters validation", "Provides validation on filter parameters."),
        ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"),
        ("floating-ip-port-forwarding", "Floating IP Port Forwarding", "Provides port forwarding on floating IPs"),
        ("ip-substring-filtering", "IP address substring filtering", "Provides IP address substring filtering when listing ports"),
        ("l3-ha", "HA Router extension", "Adds HA capability to routers."),
        ("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents"),
        ("metering", "Neutron Metering", "Neutron Metering extension."),
        ("metering_source_and_destination_fields", "Neutron Metering with source and destination filtering", "Neutron Metering extension that enables the use of source and destination IP prefixes to create metering label rules."),
        ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
        ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
        ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
        ("port-security", "Port Security", "Provides port security"),
        ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
        ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
        ("quotas", "Quota management support", "Expose functions for quotas management per project"),
        ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
        ("revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."),
        ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
        ("security-group", "security-group", "The security groups extension."),
        ("service-type", "Neutron Service Type Management", "API for retrieving service providers for Neutron advanced services"),
        ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
        ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
        ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
        ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."),
        ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
        ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
        ("subnet-external-network", "Subnet External Network", "Informs if the subnet is associated to an external network."),
        ("tag", "Tag support", "Enables to set tag on resources."),
    ]

    static func entry(_ e: (alias: String, name: String, description: String)) -> JSON {
        ["alias": .string(e.alias), "name": .string(e.name), "description": .string(e.description),
         "updated": "2024-01-01T00:00:00-00:00", "links": []]
    }

    func register(_ group: RouterGroup<MartletContext>, _ r: PolicyRouter) {
        let base = "\(service.publicURL)/network"
        group.get("") { _, _ -> Response in
            .json(.ok, ["versions": [["id": "v2.0", "status": "CURRENT", "links": [["href": .string("\(base)/v2.0/"), "rel": "self"]]]]])
        }
        group.get("/v2.0") { _, _ -> Response in
            let names = NetworkService.kinds.map(\.table)
            return .json(.ok, ["resources": .array(names.map { t in
                ["name": .string(t.member), "collection": .string(t.collection),
                 "links": [["href": .string("\(base)/v2.0/\(t.path)"), "rel": "self"]]]
            })])
        }
        r.get("/v2.0/extensions", rule: "get_extension") { _ in
            .json(.ok, ["extensions": .array(Self.extensions.map(Self.entry))])
        }
        r.get("/v2.0/extensions/:alias", rule: "get_extension") { call in
            let alias = try call.param("alias")
            guard let e = Self.extensions.first(where: { $0.alias == alias }) else {
                throw APIError(.notFound, "Extension with alias \(alias) does not exist", type: "HTTPNotFound")
            }
            return .json(.ok, ["extension": Self.entry(e)])
        }
        // The router kinds the advertised `dvr` and `l3-ha` extensions create, as Neutron's L3 flavors list them.
        r.get("/v2.0/service-providers", rule: "get_service_provider") { call in
            let all: [[String: JSON]] = ["single_node", "ha", "dvr", "dvrha"].map {
                ["service_type": "L3_ROUTER_NAT", "name": .string($0), "default": .bool($0 == "single_node")]
            }
            // Filters as on every Neutron listing (openstacksdk asks `service_type=VPN` to learn whether VPNaaS is there).
            let wanted = call.request.formQuery.items.filter { ["service_type", "name", "default"].contains($0.name) }
            let shown = all.filter { provider in
                wanted.allSatisfy { ResourceTable.columnText(provider[$0.name])?.lowercased() == $0.value.lowercased() }
            }
            return .json(.ok, ["service_providers": .array(shown.map(JSON.object))])
        }
        r.get("/v2.0/availability_zones", rule: "get_availability_zone") { _ in
            .json(.ok, ["availability_zones": [
                ["name": "nova", "resource": "network", "state": "available"],
                ["name": "nova", "resource": "router", "state": "available"],
            ]])
        }
    }
}
