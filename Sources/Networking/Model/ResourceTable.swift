import MartletCore

/// A Neutron resource as stored and shown: its attributes by wire name.
typealias Doc = [String: JSON]

/// One kind of Neutron resource: its names on the wire and the table its documents live in.
/// Each resource is stored whole as JSON; the attributes in `columns` are copied into indexed
/// columns so filters on them run in SQL.
struct ResourceTable: Sendable {
    let collection: String
    let member: String
    /// The URL path under `/v2.0` (Neutron spells some with dashes: `security-groups`).
    let path: String
    let table: String
    /// Attribute name → column name, besides `id` and `project_id`.
    let columns: [String: String]
    /// Attributes only admins see (`binding:*`, `provider:*`).
    let privateAttributes: Set<String>
    /// Every attribute a client may name in a filter, `fields` or a sort key.
    let attributes: Set<String>
    /// Whether the resource has Neutron's standard attributes (timestamps, revision number, tags,
    /// description); address scopes and metering resources do not.
    let standardAttributes: Bool

    /// `owned`: whether resources belong to a project (agents belong to the cloud).
    init(collection: String, member: String, path: String? = nil, columns: [String: String] = [:], privateAttributes: Set<String> = [],
         standardAttributes: Bool = true, owned: Bool = true, attributes: [String]) {
        self.collection = collection
        self.member = member
        self.path = path ?? collection
        self.table = "net_" + collection
        let keys = owned ? ["id": "id", "project_id": "project_id", "tenant_id": "project_id"] : ["id": "id"]
        self.columns = columns.merging(keys) { a, _ in a }
        self.privateAttributes = privateAttributes
        self.standardAttributes = standardAttributes
        self.attributes = Set(attributes + (standardAttributes ? Self.standard : owned ? ["id", "project_id", "tenant_id"] : ["id"]))
    }

    static let standard = ["id", "project_id", "tenant_id", "name", "description", "created_at", "updated_at",
                           "revision_number", "tags"]

    /// The text an indexed column holds for an attribute value (booleans as `true`/`false`).
    static func columnText(_ value: JSON?) -> String? {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        default: return nil
        }
    }
}

extension ResourceTable {
    static let networks = ResourceTable(
        collection: "networks", member: "network",
        columns: ["name": "name", "shared": "shared", "router:external": "external"],
        privateAttributes: ["provider:network_type", "provider:physical_network", "provider:segmentation_id"],
        attributes: ["admin_state_up", "shared", "router:external", "mtu", "port_security_enabled", "status", "subnets",
                     "availability_zone_hints", "availability_zones", "provider:network_type", "provider:physical_network",
                     "provider:segmentation_id", "is_default", "ipv4_address_scope", "ipv6_address_scope", "l2_adjacency"])

    static let subnets = ResourceTable(
        collection: "subnets", member: "subnet",
        columns: ["name": "name", "network_id": "network_id", "subnetpool_id": "subnetpool_id", "cidr": "cidr"],
        attributes: ["network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools", "enable_dhcp", "dns_nameservers",
                     "host_routes", "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "service_types", "segment_id",
                     "router:external"])

    static let ports = ResourceTable(
        collection: "ports", member: "port",
        columns: ["name": "name", "network_id": "network_id", "device_id": "device_id", "device_owner": "device_owner",
                  "mac_address": "mac_address", "binding:host_id": "host_id", "status": "status"],
        privateAttributes: ["binding:host_id", "binding:vif_type", "binding:vif_details", "binding:profile"],
        attributes: ["network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id", "device_owner", "status",
                     "security_groups", "allowed_address_pairs", "port_security_enabled", "extra_dhcp_opts",
                     "binding:host_id", "binding:vif_type", "binding:vif_details", "binding:vnic_type", "binding:profile",
                     "ip_allocation", "propagate_uplink_status"])

    static let routers = ResourceTable(
        collection: "routers", member: "router",
        columns: ["name": "name"],
        privateAttributes: ["distributed", "ha"],
        attributes: ["admin_state_up", "status", "external_gateway_info", "routes", "availability_zone_hints",
                     "availability_zones", "distributed", "ha", "flavor_id"])

    static let floatingIPs = ResourceTable(
        collection: "floatingips", member: "floatingip",
        columns: ["floating_network_id": "floating_network_id", "port_id": "port_id",
                  "floating_ip_address": "floating_ip_address", "router_id": "router_id"],
        attributes: ["floating_network_id", "floating_ip_address", "port_id", "fixed_ip_address", "router_id", "status",
                     "port_details", "port_forwardings", "qos_policy_id"])

    static let securityGroups = ResourceTable(
        collection: "security_groups", member: "security_group", path: "security-groups",
        columns: ["name": "name"],
        attributes: ["security_group_rules", "stateful", "shared"])

    static let securityGroupRules = ResourceTable(
        collection: "security_group_rules", member: "security_group_rule", path: "security-group-rules",
        columns: ["security_group_id": "security_group_id", "remote_group_id": "remote_group_id"],
        attributes: ["security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                     "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "normalized_cidr", "belongs_to_default_sg"])

    static let subnetPools = ResourceTable(
        collection: "subnetpools", member: "subnetpool",
        columns: ["name": "name", "shared": "shared", "address_scope_id": "address_scope_id"],
        attributes: ["prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared", "is_default",
                     "ip_version", "default_quota", "address_scope_id"])

    static let portForwardings = ResourceTable(
        collection: "port_forwardings", member: "port_forwarding",
        columns: ["floatingip_id": "floatingip_id"],
        attributes: ["floatingip_id", "protocol", "internal_ip_address", "internal_port", "external_port",
                     "internal_port_id", "internal_port_range", "external_port_range"])

    static let addressScopes = ResourceTable(
        collection: "address_scopes", member: "address_scope", path: "address-scopes",
        columns: ["name": "name", "shared": "shared", "ip_version": "ip_version"], standardAttributes: false,
        attributes: ["name", "shared", "ip_version"])

    static let meteringLabels = ResourceTable(
        collection: "metering_labels", member: "metering_label", path: "metering/metering-labels",
        columns: ["name": "name", "shared": "shared"], standardAttributes: false,
        attributes: ["name", "description", "shared"])

    static let meteringLabelRules = ResourceTable(
        collection: "metering_label_rules", member: "metering_label_rule", path: "metering/metering-label-rules",
        columns: ["metering_label_id": "metering_label_id"], standardAttributes: false,
        attributes: ["metering_label_id", "direction", "excluded", "remote_ip_prefix", "source_ip_prefix", "destination_ip_prefix"])

    /// Agents are not one of the resources projects own, so they are not in `all`: their policy is their own.
    static let agents = ResourceTable(
        collection: "agents", member: "agent",
        columns: ["agent_type": "agent_type", "host": "host"], standardAttributes: false, owned: false,
        attributes: ["agent_type", "binary", "topic", "host", "admin_state_up", "created_at", "started_at", "heartbeat_timestamp",
                     "alive", "configurations", "description", "availability_zone"])

    static let all: [ResourceTable] = [networks, subnets, ports, routers, floatingIPs, securityGroups, securityGroupRules,
                                       subnetPools, portForwardings, addressScopes, meteringLabels, meteringLabelRules]
}
