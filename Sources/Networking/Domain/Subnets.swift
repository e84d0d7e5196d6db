import MartletCore
import SQLKit

/// Subnets: CIDRs on a network with their gateway, pools, DHCP and IPv6 settings.
struct Subnets: ResourceKind {
    let table = ResourceTable.subnets
    static let modes: Set<String> = ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]
    static let updatable: Set<String> = ["name", "description", "gateway_ip", "allocation_pools", "dns_nameservers",
                                         "host_routes", "enable_dhcp", "service_types", "segment_id", "dns_publish_fixed_ip"]

    func visibility(_ caller: Caller) -> SQLQueryString {
        "(project_id = \(bind: caller.projectID) OR network_id IN (SELECT id FROM net_networks WHERE shared = 'true' OR external = 'true'))"
    }

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(Self.updatable.union(["network_id", "ip_version", "cidr", "ipv6_ra_mode", "ipv6_address_mode",
                                             "subnetpool_id", "prefixlen", "use_default_subnetpool", "project_id", "tenant_id", "tags"]))
        guard let networkID = try body.uuid("network_id") else { throw NetFault.invalid("network_id", "'None' is not a valid UUID") }
        let network = try await Networks.usable(networkID, change)
        if !change.caller.owns(network) { throw NetFault.policy("rule:create_subnet and rule:admin_or_network_owner") }
        let project = try change.owner(body)
        try await change.checkQuota("subnet", project: project, table: table)

        var ipVersion = try body.int("ip_version")
        if let v = ipVersion, v != 4 && v != 6 { throw NetFault.invalid("ip_version", "'\(v)' is not in [4, 6]") }
        var poolID = try body.uuid("subnetpool_id")
        if poolID == nil, try body.bool("use_default_subnetpool") == true {
            poolID = try await SubnetPools.defaultPool(version: ipVersion ?? 4, change)?["id"]?.stringValue
            if poolID == nil { throw NetFault.badRequest("No default subnetpool found for IPv\(ipVersion ?? 4)", type: "BadRequest") }
        }
        let cidr: CIDR
        if let poolID {
            let pool = try await SubnetPools.usable(poolID, change)
            let poolVersion = Int(pool["ip_version"]?.intValue ?? 4)
            if let v = ipVersion, v != poolVersion {
                throw NetFault.badRequest("Invalid input for operation: Cannot allocate IPv\(v) subnet from IPv\(poolVersion) subnet pool.", type: "InvalidInput")
            }
            ipVersion = poolVersion
            try await AddressScopes.checkAffinity(networkID: networkID, pool: pool, change)
            cidr = try await SubnetPools.allocate(from: pool, cidr: try body.string("cidr"), prefixlen: try body.int("prefixlen"), change)
        } else {
            guard let text = try body.string("cidr") else { throw NetFault.badRequest("Bad subnets request: a subnetpool must be specified in the absence of a cidr.", type: "BadRequest") }
            cidr = try Self.parseCIDR(text)
            guard let v = ipVersion else { throw NetFault.invalid("ip_version", "'None' is not in [4, 6]") }
            if v != cidr.version { throw NetFault.badRequest("Invalid input for operation: Cannot use IPv\(cidr.version) address \(text) in an IPv\(v) subnet.", type: "InvalidInput") }
        }
        let v = cidr.version
        if cidr.prefix == 0 { throw NetFault.invalid("cidr", "'\(cidr)' is not a valid IP subnet.") }
        for other in try await change.rows(table, "network_id = \(bind: networkID)") {
            if let o = CIDR(other["cidr"]?.stringValue ?? ""), o.overlaps(cidr) {
                throw NetFault.badRequest("Invalid input for operation: Requested subnet with cidr: \(cidr) for network: \(networkID) overlaps with another subnet.", type: "InvalidInput")
            }
        }
        let raMode = try body.string("ipv6_ra_mode"), addressMode = try body.string("ipv6_address_mode")
        try Self.checkModes(ra: raMode, address: addressMode, cidr: cidr, enableDHCP: try body.bool("enable_dhcp") ?? true)

        let gateway: IPAddress?
        if body.isNull("gateway_ip") {
            gateway = nil
        } else if let text = try body.string("gateway_ip") {
            gateway = try Self.checkGateway(text, cidr)
        } else {
            gateway = cidr.prefix >= cidr.network.bits - 1 ? nil : cidr.network.adding(1)
        }
        let pools: [AddressRange]
        if let requested = try body.array("allocation_pools") {
            pools = try Self.parsePools(requested, cidr: cidr)
        } else {
            pools = Self.defaultPools(cidr, gateway: gateway)
        }
        try Self.checkGatewayOutsidePools(gateway, pools)
        let id = Identifier.uuid()
        let doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project), "network_id": .string(networkID),
            "name": .string(try body.string("name") ?? ""), "description": .string(try body.string("description") ?? ""),
            "ip_version": .int(Int64(v)), "cidr": .string(cidr.description), "gateway_ip": JSON(gateway?.description),
            "allocation_pools": Self.render(pools), "enable_dhcp": .bool(try body.bool("enable_dhcp") ?? true),
            "dns_nameservers": JSON(try Self.nameservers(body, version: v) ?? []),
            "host_routes": .array(try Self.hostRoutes(body, version: v) ?? []),
            "ipv6_ra_mode": JSON(raMode), "ipv6_address_mode": JSON(addressMode), "subnetpool_id": JSON(poolID),
            "service_types": JSON(try body.strings("service_types") ?? []), "segment_id": nil,
            "router:external": network["router:external"] ?? false,
            "tags": .array(try Tags.from(body)),
        ]
        let stored = try await change.insert(table, doc)
        try await Networks.setSubnet(id, on: networkID, present: true, change)
        if Self.isAutoAddress(stored) { try await Self.addressExistingPorts(on: stored, change) }
        if stored["enable_dhcp"] == true { try await AgentScheduler.schedule(network: networkID, change) }
        try await DHCPPorts.sync(network: networkID, change)
        return stored
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        for key in ["cidr", "ip_version", "network_id", "subnetpool_id", "prefixlen", "ipv6_ra_mode", "ipv6_address_mode"] where body.has(key) {
            throw NetFault.badRequest("Cannot update read-only attribute \(key)")
        }
        try body.only(Self.updatable)
        let cidr = try Self.parseCIDR(current["cidr"]?.stringValue ?? "")
        var doc = current
        var gateway = (current["gateway_ip"]?.stringValue).flatMap(IPAddress.init)
        var pools = Self.pools(current)
        if body.isNull("gateway_ip") { gateway = nil } else if let text = try body.string("gateway_ip") { gateway = try Self.checkGateway(text, cidr) }
        if let requested = try body.array("allocation_pools") { pools = try Self.parsePools(requested, cidr: cidr) }
        try Self.checkGatewayOutsidePools(gateway, pools)
        doc["gateway_ip"] = JSON(gateway?.description)
        doc["allocation_pools"] = Self.render(pools)
        for key in ["name", "description"] where body.has(key) { doc[key] = .string(try body.string(key) ?? "") }
        if let dhcp = try body.bool("enable_dhcp") { doc["enable_dhcp"] = .bool(dhcp) }
        if let servers = try Self.nameservers(body, version: cidr.version) { doc["dns_nameservers"] = JSON(servers) }
        if let routes = try Self.hostRoutes(body, version: cidr.version) { doc["host_routes"] = .array(routes) }
        if let types = try body.strings("service_types") { doc["service_types"] = JSON(types) }
        if doc["enable_dhcp"] == true { try await AgentScheduler.schedule(network: current["network_id"]?.stringValue ?? "", change) }
        change.note(.network(current["network_id"]?.stringValue ?? ""))
        try await DHCPPorts.sync(network: current["network_id"]?.stringValue ?? "", change, pending: doc)
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        let networkID = current["network_id"]?.stringValue ?? ""
        for (ip, portID) in try await change.store.allocations(subnetID: id, in: change.db) {
            guard var port = try await change.get(ResourceTable.ports, portID) else { continue }
            // SLAAC addresses follow the subnet: they go with it, as DHCP ports' addresses do; a
            // router's do not.
            let owner = port["device_owner"]?.stringValue ?? ""
            guard owner == "network:dhcp" || (Self.isAutoAddress(current) && !owner.hasPrefix("network:router")) else {
                throw NetFault.conflict("Unable to complete operation on subnet \(id): One or more ports have an IP allocation from this subnet.", type: "SubnetInUse")
            }
            port["fixed_ips"] = .array(port["fixed_ips"]?.array.filter { $0["ip_address"]?.stringValue != ip } ?? [])
            try await change.update(ResourceTable.ports, port)
            change.note(.port(portID))
        }
        try await change.db.raw("DELETE FROM net_ip_allocations WHERE subnet_id = \(bind: id)").run()
        try await change.delete(table, id)
        try await Networks.setSubnet(id, on: networkID, present: false, change)
        try await DHCPPorts.sync(network: networkID, change)
    }

    // MARK: - Validation

    /// A prefix as Neutron takes it: host bits are allowed and dropped (`10.99.99.0/16` is `10.99.0.0/16`);
    /// an address without a length is not a prefix.
    static func parseCIDR(_ text: String, attribute: String = "cidr") throws -> CIDR {
        guard let loose = CIDR(text, strict: false) else { throw NetFault.invalid(attribute, "'\(text)' is not a valid IP subnet") }
        guard text.contains("/") else {
            throw NetFault.invalid(attribute, "'\(text)' isn't a recognized IP subnet cidr, '\(loose)' is recommended")
        }
        return loose
    }

    static func parseIP(_ text: String?, attribute: String) throws -> IPAddress {
        guard let text, let ip = IPAddress(text) else { throw NetFault.invalid(attribute, "'\(text ?? "None")' is not a valid IP address") }
        return ip
    }

    static func checkModes(ra: String?, address: String?, cidr: CIDR, enableDHCP: Bool) throws {
        for (name, mode) in [("ipv6_ra_mode", ra), ("ipv6_address_mode", address)] {
            if let mode, !modes.contains(mode) { throw NetFault.invalid(name, "'\(mode)' is not in \(modes.sorted())") }
        }
        guard ra != nil || address != nil else { return }
        if cidr.version == 4 {
            throw NetFault.badRequest("Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot be set when ip_version is 4.", type: "InvalidInput")
        }
        if let ra, let address, ra != address {
            throw NetFault.badRequest("Invalid input for operation: ipv6_ra_mode set to '\(ra)' with ipv6_address_mode set to '\(address)' is not valid. If both attributes are set, they must be the same value.", type: "InvalidInput")
        }
        if !enableDHCP {
            throw NetFault.badRequest("Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False.", type: "InvalidInput")
        }
        let mode = address ?? ra
        if (mode == "slaac" || mode == "dhcpv6-stateless"), cidr.prefix != 64 {
            throw NetFault.badRequest("Invalid input for operation: Invalid CIDR \(cidr) for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64.", type: "InvalidInput")
        }
    }

    static func checkGateway(_ text: String, _ cidr: CIDR) throws -> IPAddress {
        let gateway = try parseIP(text, attribute: "gateway_ip")
        guard gateway.version == cidr.version else { throw NetFault.invalid("gateway_ip", "'\(text)' is not an IPv\(cidr.version) address") }
        if cidr.version == 4, cidr.prefix < 31, cidr.contains(gateway), gateway == cidr.first || gateway == cidr.last {
            throw NetFault.badRequest("Invalid input for operation: Gateway is not valid on subnet.", type: "InvalidInput")
        }
        return gateway
    }

    static func checkGatewayOutsidePools(_ gateway: IPAddress?, _ pools: [AddressRange]) throws {
        if let gateway, let pool = pools.first(where: { $0.contains(gateway) }) {
            throw NetFault.conflict("Gateway ip \(gateway) conflicts with allocation pool \(pool.start)-\(pool.end).", type: "GatewayConflictWithAllocationPools")
        }
    }

    static func parsePools(_ list: [JSON], cidr: CIDR) throws -> [AddressRange] {
        var pools: [AddressRange] = []
        for item in list {
            guard let object = item.objectValue, Set(object.keys) == ["start", "end"] else {
                throw NetFault.invalid("allocation_pools", "Invalid data format for IP pool: '\(item.text)'")
            }
            let start = try parseIP(object["start"]?.stringValue, attribute: "allocation_pools")
            let end = try parseIP(object["end"]?.stringValue, attribute: "allocation_pools")
            guard start.version == cidr.version, end.version == cidr.version, start <= end else {
                throw NetFault.badRequest("The allocation pool \(start)-\(end) is not valid.", type: "InvalidAllocationPool")
            }
            let usable = AddressRange(start: cidr.first, end: cidr.last)
            guard usable.contains(start), usable.contains(end) else {
                throw NetFault.badRequest("The allocation pool \(start)-\(end) spans beyond the subnet cidr \(cidr).", type: "OutOfBoundsAllocationPool")
            }
            if cidr.version == 4, cidr.prefix < 31, start == cidr.first || end == cidr.last {
                throw NetFault.badRequest("The allocation pool \(start)-\(end) spans beyond the subnet cidr \(cidr).", type: "OutOfBoundsAllocationPool")
            }
            if let other = pools.first(where: { $0.overlaps(AddressRange(start: start, end: end)) }) {
                throw NetFault.badRequest("Found overlapping allocation pools: \(other.start)-\(other.end) and \(start)-\(end) for subnet \(cidr).", type: "OverlappingAllocationPools")
            }
            pools.append(AddressRange(start: start, end: end))
        }
        return pools.sorted { $0.start < $1.start }
    }

    /// Every host address but the network (and, for IPv4, broadcast) address, less the gateway.
    static func defaultPools(_ cidr: CIDR, gateway: IPAddress?) -> [AddressRange] {
        let start: IPAddress, end: IPAddress
        switch (cidr.version, cidr.network.bits - cidr.prefix) {
        case (_, 0): return []
        case (4, 1): (start, end) = (cidr.first, cidr.last)
        case (4, _): (start, end) = (cidr.first.adding(1), cidr.last.subtracting(1))
        default: (start, end) = (cidr.first.adding(1), cidr.last)
        }
        guard let gateway, gateway >= start, gateway <= end else { return [AddressRange(start: start, end: end)] }
        var pools: [AddressRange] = []
        if gateway > start { pools.append(AddressRange(start: start, end: gateway.subtracting(1))) }
        if gateway < end { pools.append(AddressRange(start: gateway.adding(1), end: end)) }
        return pools
    }

    static func render(_ pools: [AddressRange]) -> JSON {
        .array(pools.map { ["start": .string($0.start.description), "end": .string($0.end.description)] })
    }

    static func pools(_ subnet: Doc) -> [AddressRange] {
        (subnet["allocation_pools"]?.array ?? []).compactMap { item in
            guard let s = item["start"]?.stringValue.flatMap(IPAddress.init), let e = item["end"]?.stringValue.flatMap(IPAddress.init) else { return nil }
            return AddressRange(start: s, end: e)
        }.sorted { $0.start < $1.start }
    }

    static func nameservers(_ body: Body, version: Int) throws -> [String]? {
        guard let list = try body.strings("dns_nameservers") else { return nil }
        if list.count > 5 { throw NetFault.badRequest("Unable to complete operation for the subnet. The number of DNS nameservers exceeds the limit 5.", type: "DNSNameServersExhausted") }
        var seen = Set<String>()
        for server in list {
            guard IPAddress(server) != nil else { throw NetFault.invalid("dns_nameservers", "'\(server)' is not a valid nameserver") }
            if !seen.insert(server).inserted { throw NetFault.invalid("dns_nameservers", "Duplicate nameserver '\(server)'") }
        }
        return list
    }

    static func hostRoutes(_ body: Body, version: Int) throws -> [JSON]? {
        guard let list = try body.array("host_routes") else { return nil }
        if list.count > 20 { throw NetFault.badRequest("Unable to complete operation for the subnet. The number of host routes exceeds the limit 20.", type: "HostRoutesExhausted") }
        var routes: [JSON] = []
        for item in list {
            let (destination, nexthop) = try route(item, attribute: "host_routes")
            guard destination.version == version, nexthop.version == version else {
                throw NetFault.badRequest("Invalid input for operation: host route \(item.text) does not match the subnet's IP version.", type: "InvalidInput")
            }
            let route: JSON = ["destination": .string(destination.description), "nexthop": .string(nexthop.description)]
            if routes.contains(route) { throw NetFault.invalid("host_routes", "Duplicate hostroute '\(item.text)'") }
            routes.append(route)
        }
        return routes
    }

    /// One `{"destination": CIDR, "nexthop": IP}` of host routes or router routes.
    static func route(_ item: JSON, attribute: String) throws -> (destination: CIDR, nexthop: IPAddress) {
        guard let object = item.objectValue, Set(object.keys) == ["destination", "nexthop"],
              let destination = CIDR(object["destination"]?.stringValue ?? "", strict: false),
              let nexthop = IPAddress(object["nexthop"]?.stringValue ?? "") else {
            throw NetFault.invalid(attribute, "Invalid data format for hostroute: '\(item.text)'")
        }
        return (destination, nexthop)
    }

    /// A new SLAAC or DHCPv6-stateless subnet gives the network's ports an address from their MAC,
    /// as Neutron does: the hosts take it from the router's advertisements by themselves. Routers'
    /// interfaces take the subnet through `add_router_interface`, a floating IP is one address,
    /// and the DHCP port follows its own rule.
    private static func addressExistingPorts(on subnet: Doc, _ change: Change) async throws {
        let ipam = IPAM(change: change)
        let skipped: Set<String> = ["network:router_interface", "network:router_interface_distributed", "network:ha_router_replicated_interface",
                                    "network:floatingip", DHCPPorts.owner]
        for var port in try await change.rows(ResourceTable.ports, "network_id = \(bind: subnet["network_id"]?.stringValue ?? "")") {
            let owner = port["device_owner"]?.stringValue ?? ""
            guard !skipped.contains(owner),
                  let portID = port["id"]?.stringValue else { continue }
            let ip = try await ipam.allocate(on: subnet, portID: portID, mac: port["mac_address"]?.stringValue ?? "")
            port["fixed_ips"] = .array((port["fixed_ips"]?.array ?? []) + [["subnet_id": subnet["id"] ?? nil, "ip_address": .string(ip.description)]])
            try await change.update(ResourceTable.ports, port)
            change.note(.port(portID))
        }
    }

    /// Whether addresses on this subnet come from the MAC address (SLAAC) rather than the pools.
    static func isAutoAddress(_ subnet: Doc) -> Bool {
        let mode = subnet["ipv6_address_mode"]?.stringValue
        return mode == "slaac" || mode == "dhcpv6-stateless"
    }
}
