import MartletCore
import SQLKit

/// Routers: interfaces on subnets, a gateway on an external network with SNAT, static routes.
struct Routers: ResourceKind {
    let table = ResourceTable.routers
    static let updatable: Set<String> = ["name", "description", "admin_state_up", "external_gateway_info", "routes",
                                         "distributed", "ha"]

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(Self.updatable.union(["project_id", "tenant_id", "tags", "availability_zone_hints", "flavor_id"]))
        try Self.checkAdminOnly(body, change, action: "create_router")
        let project = try change.owner(body)
        try await change.checkQuota("router", project: project, table: table)
        let id = Identifier.uuid()
        var doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project),
            "name": .string(try body.string("name") ?? ""), "description": .string(try body.string("description") ?? ""),
            "admin_state_up": .bool(try body.bool("admin_state_up") ?? true), "status": "ACTIVE",
            "external_gateway_info": nil, "routes": [],
            "availability_zone_hints": JSON(try body.strings("availability_zone_hints") ?? []), "availability_zones": [],
            "distributed": .bool(try body.bool("distributed") ?? false), "ha": .bool(try body.bool("ha") ?? false),
            "flavor_id": nil, "tags": .array(try Tags.from(body)),
        ]
        if try body.array("routes")?.isEmpty == false {
            throw NetFault.badRequest("Invalid input for operation: routes need interfaces; add them after creating the router.", type: "InvalidInput")
        }
        doc["external_gateway_info"] = try await gateway(body.members["external_gateway_info"], router: id, current: nil, change)
        change.note(.router(id))
        let stored = try await change.insert(table, doc)
        if stored["external_gateway_info"] != .null { try await AgentScheduler.schedule(router: stored, change) }
        return stored
    }

    static func checkAdminOnly(_ body: Body, _ change: Change, action: String) throws {
        guard !change.caller.isAdmin else { return }
        for key in ["distributed", "ha"] where body.has(key) { throw NetFault.policy("rule:\(action) and rule:\(action):\(key)") }
        if let info = body.members["external_gateway_info"]?.objectValue {
            for key in ["enable_snat", "external_fixed_ips"] where info[key] != nil {
                throw NetFault.policy("rule:\(action) and rule:\(action):external_gateway_info:\(key)")
            }
        }
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(Self.updatable)
        try Self.checkAdminOnly(body, change, action: "update_router")
        var doc = current
        let id = current["id"]?.stringValue ?? ""
        for key in ["name", "description"] where body.has(key) { doc[key] = .string(try body.string(key) ?? "") }
        for key in ["admin_state_up", "distributed", "ha"] { if let v = try body.bool(key) { doc[key] = .bool(v) } }
        if body.has("external_gateway_info") {
            doc["external_gateway_info"] = try await gateway(body.members["external_gateway_info"], router: id, current: current["external_gateway_info"], change)
        }
        if body.has("routes") {
            doc["routes"] = .array(try await routes(try body.array("routes") ?? [], router: id, change))
        }
        if doc["external_gateway_info"] != .null { try await AgentScheduler.schedule(router: doc, change) }
        change.note(.router(id))
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        let ports = try await change.rows(ResourceTable.ports, "device_id = \(bind: id)")
        if ports.contains(where: { $0["device_owner"]?.stringValue == "network:router_interface" }) {
            throw NetFault.conflict("Router \(id) still has ports", type: "RouterInUse")
        }
        if try await change.store.count(ResourceTable.floatingIPs, where: "router_id = \(bind: id)", in: change.db) > 0 {
            throw NetFault.conflict("Router \(id) still has floating IPs associated through it", type: "RouterInUse")
        }
        for port in ports { try await Ports.remove(port, change) }
        try await AgentScheduler.forget(id, .routers, change)
        try await change.delete(table, id)
        change.note(.routerDeleted(id))
    }

    /// Sets, keeps or clears the gateway: a port on the external network the router owns.
    private func gateway(_ value: JSON?, router: String, current: JSON?, _ change: Change) async throws -> JSON {
        let existing = try await change.rows(ResourceTable.ports, "device_id = \(bind: router) AND device_owner = 'network:router_gateway'")
        guard let info = value?.objectValue, let networkValue = info["network_id"], networkValue != .null else {
            if let value, value != .null, value.objectValue == nil { throw NetFault.invalid("external_gateway_info", "'\(value.text)' is not a dictionary") }
            if let value, let info = value.objectValue, !info.isEmpty, info["network_id"] == nil {
                throw NetFault.invalid("external_gateway_info", "network_id is required")
            }
            try await requireNoFloatingIPs(router, change)
            for port in existing { try await Ports.remove(port, change) }
            return .null
        }
        let unknown = Set(info.keys).subtracting(["network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"])
        if !unknown.isEmpty { throw NetFault.invalid("external_gateway_info", "Unrecognized attribute(s) '\(unknown.sorted().joined(separator: ", "))'") }
        guard let networkID = networkValue.stringValue else { throw NetFault.invalid("external_gateway_info", "'\(networkValue.text)' is not a valid UUID") }
        let network = try await Networks.usable(networkID, change, external: true)
        guard network["router:external"] == true else {
            throw NetFault.badRequest("Bad router request: Network \(networkID) is not an external network.", type: "BadRequest")
        }
        let enableSNAT: Bool
        switch info["enable_snat"] {
        case nil, .null?: enableSNAT = true
        case .bool(let b)?: enableSNAT = b
        default: throw NetFault.invalid("external_gateway_info", "enable_snat must be a boolean")
        }
        var requests: [IPAM.Request]?
        switch info["external_fixed_ips"] {
        case nil, .null?: requests = nil
        case .array(let list)?: requests = list.isEmpty ? nil : try IPAM.parseRequests(list)
        case let other?: throw NetFault.invalid("external_gateway_info", "external_fixed_ips '\(other.text)' is not a list")
        }
        var port: Doc
        if let old = existing.first, old["network_id"]?.stringValue == networkID, requests == nil {
            port = old
        } else {
            if let old = existing.first, old["network_id"]?.stringValue != networkID {
                try await requireNoFloatingIPs(router, change)
            }
            for old in existing { try await Ports.remove(old, change) }
            port = try await Ports.createServicePort(network: networkID, owner: "network:router_gateway", deviceID: router,
                                                     project: "", requests: requests, change)
        }
        return [
            "network_id": .string(networkID), "enable_snat": .bool(enableSNAT),
            "external_fixed_ips": port["fixed_ips"] ?? [],
        ]
    }

    private func requireNoFloatingIPs(_ router: String, _ change: Change) async throws {
        if try await change.store.count(ResourceTable.floatingIPs, where: "router_id = \(bind: router)", in: change.db) > 0 {
            throw NetFault.conflict("Gateway cannot be updated for router \(router), since a gateway to external network is required by one or more floating IPs.", type: "RouterExternalGatewayInUseByFloatingIp")
        }
    }

    /// Static routes: each next hop must be on a subnet the router has a leg on, its gateway's included.
    private func routes(_ list: [JSON], router: String, _ change: Change) async throws -> [JSON] {
        let cidrs = try await Self.interfaceSubnets(router, change, includingGateway: true).compactMap { CIDR($0["cidr"]?.stringValue ?? "") }
        var result: [JSON] = []
        for item in list {
            let (destination, nexthop) = try Subnets.route(item, attribute: "routes")
            guard cidrs.contains(where: { $0.contains(nexthop) }) else {
                throw NetFault.badRequest("Invalid format for routes: \(item.text), the nexthop is not connected with router", type: "InvalidRoutes")
            }
            let route: JSON = ["destination": .string(destination.description), "nexthop": .string(nexthop.description)]
            if !result.contains(route) { result.append(route) }
        }
        return result
    }

    /// The subnets the router has interfaces on.
    static func interfaceSubnets(_ router: String, _ change: Change, includingGateway: Bool = false) async throws -> [Doc] {
        var subnets: [Doc] = []
        let owners = includingGateway ? ["network:router_interface", "network:router_gateway"] : ["network:router_interface"]
        for port in try await change.rows(ResourceTable.ports, "device_id = \(bind: router) AND device_owner IN (\(binds: owners))") {
            for ip in port["fixed_ips"]?.array ?? [] {
                if let id = ip["subnet_id"]?.stringValue, let subnet = try await change.get(ResourceTable.subnets, id) { subnets.append(subnet) }
            }
        }
        return subnets
    }

    // MARK: - Interfaces

    /// `add_router_interface`: by subnet (a new port at the subnet's gateway address) or by port.
    static func addInterface(_ router: Doc, _ body: JSON, _ change: Change) async throws -> Doc {
        let routerID = router["id"]?.stringValue ?? ""
        let (subnetID, portID) = try interfaceArguments(body)
        let attached = try await interfaceSubnets(routerID, change)
        var port: Doc
        if let portID {
            guard var found = try await change.get(ResourceTable.ports, portID), change.caller.owns(found) else {
                throw NetFault.notFound(ResourceTable.ports, portID)
            }
            if !(found["device_id"]?.stringValue ?? "").isEmpty || !(found["device_owner"]?.stringValue ?? "").isEmpty {
                throw NetFault.conflict("Unable to complete operation on port \(portID) for network \(found["network_id"]?.stringValue ?? ""). Port already has an attached device \(found["device_id"]?.stringValue ?? "").", type: "PortInUse")
            }
            let fixed = found["fixed_ips"]?.array ?? []
            if fixed.isEmpty { throw NetFault.badRequest("Bad router request: Router port must have at least one fixed IP.", type: "BadRequest") }
            for ip in fixed {
                guard let sid = ip["subnet_id"]?.stringValue, let subnet = try await change.get(ResourceTable.subnets, sid) else { continue }
                if attached.contains(where: { $0["id"]?.stringValue == sid }) {
                    throw NetFault.badRequest("Bad router request: Router already has a port on subnet \(sid).", type: "BadRequest")
                }
                try checkNoOverlap(subnet, attached, routerID)
            }
            found["device_id"] = .string(routerID)
            found["device_owner"] = "network:router_interface"
            found["status"] = "ACTIVE"
            port = try await change.update(ResourceTable.ports, found)
            change.note(.port(portID))
        } else if let subnetID {
            guard let subnet = try await change.get(ResourceTable.subnets, subnetID) else { throw NetFault.notFound(ResourceTable.subnets, subnetID) }
            let network = try await change.get(ResourceTable.networks, subnet["network_id"]?.stringValue ?? "")
            guard change.caller.owns(subnet) || network?["shared"] == true else { throw NetFault.notFound(ResourceTable.subnets, subnetID) }
            guard let gateway = subnet["gateway_ip"]?.stringValue.flatMap(IPAddress.init) else {
                throw NetFault.badRequest("Bad router request: Subnet for router interface must have a gateway IP.", type: "BadRequest")
            }
            if attached.contains(where: { $0["id"]?.stringValue == subnetID }) {
                throw NetFault.badRequest("Bad router request: Router already has a port on subnet \(subnetID).", type: "BadRequest")
            }
            try checkNoOverlap(subnet, attached, routerID)
            port = try await Ports.createServicePort(network: subnet["network_id"]?.stringValue ?? "", owner: "network:router_interface",
                                                     deviceID: routerID, project: router["project_id"]?.stringValue ?? "",
                                                     requests: [IPAM.Request(subnetID: subnetID, ip: gateway)], change)
        } else {
            throw NetFault.badRequest("Bad router request: Either subnet_id or port_id must be specified.", type: "BadRequest")
        }
        try await AgentScheduler.schedule(router: router, change)
        change.note(.router(routerID))
        // Its DHCP stops routing the metadata service through the DHCP namespace.
        change.note(.network(port["network_id"]?.stringValue ?? ""))
        return interfaceInfo(router, port)
    }

    private static func checkNoOverlap(_ subnet: Doc, _ attached: [Doc], _ routerID: String) throws {
        guard let cidr = CIDR(subnet["cidr"]?.stringValue ?? "") else { return }
        for other in attached where other["id"]?.stringValue != subnet["id"]?.stringValue {
            if let o = CIDR(other["cidr"]?.stringValue ?? ""), o.overlaps(cidr) {
                throw NetFault.badRequest("Bad router request: Cidr \(cidr) of subnet \(subnet["id"]?.stringValue ?? "") overlaps with cidr \(o) of subnet \(other["id"]?.stringValue ?? "").", type: "BadRequest")
            }
        }
    }

    /// `remove_router_interface`: the interface port is deleted, however it was attached.
    static func removeInterface(_ router: Doc, _ body: JSON, _ change: Change) async throws -> Doc {
        let routerID = router["id"]?.stringValue ?? ""
        let (subnetID, portID) = try interfaceArguments(body)
        let ports = try await change.rows(ResourceTable.ports, "device_id = \(bind: routerID) AND device_owner = 'network:router_interface'")
        let port: Doc
        if let portID {
            guard let found = ports.first(where: { $0["id"]?.stringValue == portID }) else {
                throw APIError(.notFound, "Router \(routerID) does not have an interface with id \(portID)", type: "RouterInterfaceNotFound")
            }
            if let subnetID, !(found["fixed_ips"]?.array.contains { $0["subnet_id"]?.stringValue == subnetID } ?? false) {
                throw NetFault.conflict("Subnet \(subnetID) is not on port \(portID).", type: "SubnetMismatchForPort")
            }
            port = found
        } else if let subnetID {
            guard let found = ports.first(where: { $0["fixed_ips"]?.array.contains { $0["subnet_id"]?.stringValue == subnetID } ?? false }) else {
                throw APIError(.notFound, "Router \(routerID) has no interface on subnet \(subnetID)", type: "RouterInterfaceNotFoundForSubnet")
            }
            port = found
        } else {
            throw NetFault.badRequest("Bad router request: Either subnet_id or port_id must be specified.", type: "BadRequest")
        }
        let subnets = Set((port["fixed_ips"]?.array ?? []).compactMap { $0["subnet_id"]?.stringValue })
        for fip in try await change.rows(ResourceTable.floatingIPs, "router_id = \(bind: routerID)") {
            guard let fixedPort = fip["port_id"]?.stringValue, let target = try await change.get(ResourceTable.ports, fixedPort) else { continue }
            if (target["fixed_ips"]?.array ?? []).contains(where: { subnets.contains($0["subnet_id"]?.stringValue ?? "") }) {
                throw NetFault.conflict("Router interface for subnet \(subnets.first ?? "") on router \(routerID) cannot be deleted, as it is required by one or more floating IPs.", type: "RouterInterfaceInUseByFloatingIP")
            }
        }
        var cidrs: [CIDR] = []
        for id in subnets { if let cidr = CIDR(try await change.get(ResourceTable.subnets, id)?["cidr"]?.stringValue ?? "") { cidrs.append(cidr) } }
        for route in router["routes"]?.array ?? [] {
            if let hop = IPAddress(route["nexthop"]?.stringValue ?? ""), cidrs.contains(where: { $0.contains(hop) }) {
                throw NetFault.conflict("Router interface for subnet \(subnets.first ?? "") on router \(routerID) cannot be deleted, as it is required by one or more routes.", type: "RouterInterfaceInUseByRoute")
            }
        }
        try await Ports.remove(port, change)
        change.note(.router(routerID))
        change.note(.network(port["network_id"]?.stringValue ?? ""))
        return interfaceInfo(router, port)
    }

    private static func interfaceArguments(_ body: JSON) throws -> (String?, String?) {
        guard let object = body.objectValue else { throw NetFault.badRequest("Bad router request: the body must be a JSON object.", type: "BadRequest") }
        func value(_ key: String) throws -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw NetFault.invalid(key, "'\(object[key]!.text)' is not a valid UUID")
            }
        }
        let subnet = try value("subnet_id"), port = try value("port_id")
        if subnet != nil && port != nil {
            throw NetFault.badRequest("Bad router request: Cannot specify both subnet-id and port-id", type: "BadRequest")
        }
        return (subnet, port)
    }

    private static func interfaceInfo(_ router: Doc, _ port: Doc) -> Doc {
        let subnets = (port["fixed_ips"]?.array ?? []).compactMap { $0["subnet_id"]?.stringValue }
        return [
            "id": router["id"] ?? "", "tenant_id": router["project_id"] ?? "", "project_id": router["project_id"] ?? "",
            "port_id": port["id"] ?? "", "network_id": port["network_id"] ?? "", "subnet_id": JSON(subnets.first),
            "subnet_ids": JSON(subnets),
        ]
    }
}
