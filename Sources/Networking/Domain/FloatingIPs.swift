import MartletCore
import MartletStore
import SQLKit

/// Floating IPs: addresses on an external network, NATed by a router to a port's fixed IP.
struct FloatingIPs: ResourceKind {
    let table = ResourceTable.floatingIPs

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
                       "description", "project_id", "tenant_id", "tags", "qos_policy_id", "dns_name", "dns_domain"])
        guard let networkID = try body.uuid("floating_network_id") else { throw NetFault.invalid("floating_network_id", "'None' is not a valid UUID") }
        let network = try await Networks.usable(networkID, change, external: true)
        guard network["router:external"] == true else {
            throw NetFault.badRequest("Bad floatingip request: Network \(networkID) is not a valid external network.", type: "BadRequest")
        }
        if body.has("floating_ip_address") && !change.caller.isAdmin {
            throw NetFault.policy("rule:create_floatingip and rule:create_floatingip:floating_ip_address")
        }
        let project = try change.owner(body)
        try await change.checkQuota("floatingip", project: project, table: table)
        let id = Identifier.uuid()
        var request = IPAM.Request(subnetID: try body.uuid("subnet_id"))
        if let text = try body.string("floating_ip_address") { request.ip = try Subnets.parseIP(text, attribute: "floating_ip_address") }
        let requests: [IPAM.Request]? = request.subnetID == nil && request.ip == nil ? nil : [request]
        let port = try await Ports.createServicePort(network: networkID, owner: "network:floatingip", deviceID: id, project: "",
                                                     requests: requests, change)
        guard let address = port["fixed_ips"]?.array.first(where: { IPAddress($0["ip_address"]?.stringValue ?? "")?.version == 4 })?["ip_address"] else {
            throw NetFault.badRequest("Bad floatingip request: no IPv4 subnet on external network \(networkID).", type: "BadRequest")
        }
        var doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project),
            "floating_network_id": .string(networkID), "floating_ip_address": address,
            "description": .string(try body.string("description") ?? ""), "status": "DOWN",
            "port_id": nil, "fixed_ip_address": nil, "router_id": nil, "port_details": nil, "port_forwardings": [],
            "qos_policy_id": nil, "tags": .array(try Tags.from(body)),
        ]
        if let portID = try body.uuid("port_id") {
            try await Self.associate(&doc, portID: portID, fixedIP: try body.string("fixed_ip_address"), change)
        }
        return try await change.insert(table, doc)
    }

    let expands = true

    /// `port_details` is read from the port when shown, so it follows the port's changes.
    func expand(_ docs: [Doc], _ db: any SQLDatabase, _ store: NetworkStore) async throws -> [Doc] {
        let ids = docs.compactMap { $0["port_id"]?.stringValue }
        guard !ids.isEmpty else { return docs }
        var ports: [String: Doc] = [:]
        for port in try await store.rows(.ports, where: "id IN \(SQLQueryString.list(ids))", in: db) { ports[port["id"]?.stringValue ?? ""] = port }
        return docs.map { doc in
            guard let port = doc["port_id"]?.stringValue.flatMap({ ports[$0] }) else { return doc }
            var doc = doc
            doc["port_details"] = [
                "name": port["name"] ?? "", "network_id": port["network_id"] ?? "", "mac_address": port["mac_address"] ?? "",
                "admin_state_up": port["admin_state_up"] ?? true, "status": port["status"] ?? "DOWN",
                "device_id": port["device_id"] ?? "", "device_owner": port["device_owner"] ?? "",
            ]
            return doc
        }
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["port_id", "fixed_ip_address", "description", "qos_policy_id"])
        var doc = current
        if body.has("description") { doc["description"] = .string(try body.string("description") ?? "") }
        if body.has("port_id") {
            if let oldRouter = current["router_id"]?.stringValue { change.note(.router(oldRouter)) }
            if let portID = try body.uuid("port_id") {
                try await Self.associate(&doc, portID: portID, fixedIP: try body.string("fixed_ip_address"), change)
            } else {
                Self.clear(&doc)
            }
        }
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        for port in try await change.rows(ResourceTable.ports, "device_id = \(bind: id) AND device_owner = 'network:floatingip'") {
            try await Ports.remove(port, change)
        }
        try await change.db.raw("DELETE FROM net_port_forwardings WHERE floatingip_id = \(bind: id)").run()
        if let router = current["router_id"]?.stringValue { change.note(.router(router)) }
        try await change.delete(table, id)
    }

    /// Points the floating IP at a port's fixed IP through the router that joins the port's subnet
    /// to the floating IP's external network.
    static func associate(_ doc: inout Doc, portID: String, fixedIP: String?, _ change: Change) async throws {
        guard let port = try await change.get(ResourceTable.ports, portID), change.caller.owns(port) else {
            throw NetFault.notFound(ResourceTable.ports, portID)
        }
        let v4 = (port["fixed_ips"]?.array ?? []).filter { IPAddress($0["ip_address"]?.stringValue ?? "")?.version == 4 }
        let chosen: JSON
        if let fixedIP {
            guard let match = v4.first(where: { $0["ip_address"]?.stringValue == fixedIP }) else {
                throw NetFault.badRequest("Bad floatingip request: Port \(portID) does not have fixed ip \(fixedIP).", type: "BadRequest")
            }
            chosen = match
        } else {
            guard v4.count == 1 else {
                throw NetFault.badRequest("Bad floatingip request: Port \(portID) has \(v4.isEmpty ? "no" : "multiple") fixed IPv4 addresses. \(v4.isEmpty ? "" : "Must provide a specific IPv4 address when assigning a floating IP.")", type: "BadRequest")
            }
            chosen = v4[0]
        }
        let address = chosen["ip_address"]?.stringValue ?? "", subnetID = chosen["subnet_id"]?.stringValue ?? ""
        let id = doc["id"]?.stringValue ?? ""
        for other in try await change.rows(ResourceTable.floatingIPs, "port_id = \(bind: portID)")
            where other["id"]?.stringValue != id && other["fixed_ip_address"]?.stringValue == address {
            throw NetFault.conflict("Cannot associate floating IP \(doc["floating_ip_address"]?.stringValue ?? "") (\(id)) with port \(portID) using fixed IP \(address), as that fixed IP already has a floating IP on external network \(doc["floating_network_id"]?.stringValue ?? "").", type: "FloatingIPPortAlreadyAssociated")
        }
        if try await change.store.count(ResourceTable.portForwardings, where: "floatingip_id = \(bind: id)", in: change.db) > 0 {
            throw NetFault.conflict("Floating IP \(id) has port forwardings; it cannot also be associated with a port.", type: "FipInUseByPortForwarding")
        }
        let external = doc["floating_network_id"]?.stringValue ?? ""
        guard let router = try await routerBetween(subnetID: subnetID, externalNetwork: external, change) else {
            throw APIError(.notFound, "External network \(external) is not reachable from subnet \(subnetID).  Therefore, cannot associate Port \(portID) with a Floating IP.", type: "ExternalGatewayForFloatingIPNotFound")
        }
        let unchanged = doc["port_id"]?.stringValue == portID && doc["fixed_ip_address"]?.stringValue == address
        doc["port_id"] = .string(portID)
        doc["fixed_ip_address"] = .string(address)
        doc["router_id"] = .string(router)
        // `ACTIVE` once the data plane has applied its NAT, as Neutron's L3 agent reports it.
        if !unchanged { doc["status"] = "DOWN" }
        change.note(.router(router))
    }

    /// A router with an interface on the subnet and its gateway on the external network.
    static func routerBetween(subnetID: String, externalNetwork: String, _ change: Change) async throws -> String? {
        let interfaces = try await change.rows(ResourceTable.ports, """
            device_owner = 'network:router_interface' AND id IN (SELECT port_id FROM net_ip_allocations WHERE subnet_id = \(bind: subnetID))
            """)
        for port in interfaces {
            let routerID = port["device_id"]?.stringValue ?? ""
            let gateways = try await change.rows(ResourceTable.ports, "device_id = \(bind: routerID) AND device_owner = 'network:router_gateway' AND network_id = \(bind: externalNetwork)")
            if !gateways.isEmpty { return routerID }
        }
        return nil
    }

    static func clear(_ doc: inout Doc) {
        doc["status"] = "DOWN"
        doc["port_id"] = .null
        doc["fixed_ip_address"] = .null
        doc["router_id"] = .null
        doc["port_details"] = .null
    }

    /// Called when the port a floating IP points at goes away.
    static func disassociate(_ fip: Doc, _ change: Change) async throws {
        var doc = fip
        if let router = fip["router_id"]?.stringValue { change.note(.router(router)) }
        clear(&doc)
        try await change.update(ResourceTable.floatingIPs, doc)
    }
}

/// Port forwardings on a floating IP: an external port NATed to a port's fixed IP and internal port.
struct PortForwardings {
    let table = ResourceTable.portForwardings
    static let protocols: Set<String> = ["tcp", "udp", "sctp", "udplite", "dccp"]

    func create(_ fip: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["protocol", "internal_ip_address", "internal_port", "external_port", "internal_port_id", "description"])
        let fipID = fip["id"]?.stringValue ?? ""
        if fip["port_id"] != nil && fip["port_id"] != .null {
            throw NetFault.conflict("Floating IP \(fipID) is associated with a port; it cannot have port forwardings.", type: "FipInUseByPortForwarding")
        }
        guard let portID = try body.uuid("internal_port_id") else { throw NetFault.invalid("internal_port_id", "'None' is not a valid UUID") }
        guard let port = try await change.get(ResourceTable.ports, portID), change.caller.owns(port) else {
            throw NetFault.notFound(ResourceTable.ports, portID)
        }
        guard let proto = try body.string("protocol"), Self.protocols.contains(proto) else {
            throw NetFault.invalid("protocol", "'\(try body.string("protocol") ?? "None")' is not in \(Self.protocols.sorted())")
        }
        let internalIP = try body.string("internal_ip_address") ?? ""
        guard (port["fixed_ips"]?.array ?? []).contains(where: { $0["ip_address"]?.stringValue == internalIP }) else {
            throw NetFault.badRequest("Bad port_forwarding request: the internal IP \(internalIP) is not a fixed IP of port \(portID).", type: "BadRequest")
        }
        guard let internalPort = try body.int("internal_port"), (1...65535).contains(internalPort),
              let externalPort = try body.int("external_port"), (1...65535).contains(externalPort) else {
            throw NetFault.invalid("port", "internal_port and external_port must be integers from 1 to 65535")
        }
        for other in try await change.rows(table, "floatingip_id = \(bind: fipID)") {
            if other["protocol"]?.stringValue == proto, other["external_port"]?.intValue == Int64(externalPort) {
                throw NetFault.badRequest("Bad port_forwarding request: external port \(externalPort)/\(proto) is already forwarded on floating IP \(fipID).", type: "BadRequest")
            }
        }
        guard let subnet = (port["fixed_ips"]?.array ?? []).first(where: { $0["ip_address"]?.stringValue == internalIP })?["subnet_id"]?.stringValue,
              let router = try await FloatingIPs.routerBetween(subnetID: subnet, externalNetwork: fip["floating_network_id"]?.stringValue ?? "", change) else {
            throw APIError(.notFound, "External network \(fip["floating_network_id"]?.stringValue ?? "") is not reachable from the internal IP \(internalIP).", type: "ExternalGatewayForFloatingIPNotFound")
        }
        var stored = fip
        stored["router_id"] = .string(router)
        try await change.update(ResourceTable.floatingIPs, stored)
        change.note(.router(router))
        let doc: Doc = [
            "id": .string(Identifier.uuid()), "project_id": fip["project_id"] ?? "", "floatingip_id": .string(fipID),
            "protocol": .string(proto), "internal_ip_address": .string(internalIP), "internal_port": .int(Int64(internalPort)),
            "external_port": .int(Int64(externalPort)), "internal_port_id": .string(portID),
            "description": .string(try body.string("description") ?? ""),
        ]
        return try await change.insert(table, doc)
    }
}
