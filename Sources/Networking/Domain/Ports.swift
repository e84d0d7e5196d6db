import DriverKit
import MartletCore
import MartletStore
import SQLKit

/// Ports: a MAC address and fixed IPs on a network, the security groups that filter them, and
/// (for admins) the binding to a host.
struct Ports: ResourceKind {
    let table = ResourceTable.ports

    static let bindingAdminOnly = ["binding:host_id", "binding:profile"]
    static let updatable: Set<String> = ["name", "description", "admin_state_up", "device_id", "device_owner", "fixed_ips",
                                         "security_groups", "allowed_address_pairs", "port_security_enabled", "mac_address",
                                         "binding:host_id", "binding:profile", "binding:vnic_type", "extra_dhcp_opts",
                                         "propagate_uplink_status", "dns_name", "qos_policy_id"]
    static let vnicTypes: Set<String> = ["normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder", "smart-nic", "vdpa", "remote-managed"]
    /// Ports the Network service makes for routers and floating IPs: deleted only through their owner.
    static let serviceOwners: Set<String> = ["network:router_interface", "network:router_gateway", "network:floatingip",
                                             "network:router_interface_distributed", "network:ha_router_replicated_interface"]

    /// A project sees its own ports and the ports others made on its networks.
    func visibility(_ caller: Caller) -> SQLQueryString {
        "(project_id = \(bind: caller.projectID) OR network_id IN (SELECT id FROM net_networks WHERE project_id = \(bind: caller.projectID)))"
    }

    func create(_ body: Body, _ change: Change) async throws -> Doc { try await create(body, change, boundTo: nil) }

    /// A new port; `host`, when given, binds it there for a server (whatever the caller may set).
    func create(_ body: Body, _ change: Change, boundTo host: String?) async throws -> Doc {
        try body.only(Self.updatable.union(["network_id", "project_id", "tenant_id", "tags"]))
        guard let networkID = try body.uuid("network_id") else { throw NetFault.invalid("network_id", "'None' is not a valid UUID") }
        let network = try await Networks.usable(networkID, change)
        let caller = change.caller
        for key in Self.bindingAdminOnly where body.setsOtherThanDefault(key) && !caller.isAdmin {
            throw NetFault.policy("rule:create_port and rule:create_port:\(key)")
        }
        let project = try change.owner(body)
        try Self.checkNetworkOwnerFields(body, network, change, action: "create_port")
        // The default group before the quota: every path takes those two locks in this order.
        let defaultGroup = try await SecurityGroups.ensureDefault(project: project, change)
        try await change.checkQuota("port", project: project, table: table)
        let id = Identifier.uuid()
        let mac = try await macAddress(try body.string("mac_address"), networkID: networkID, change)
        let owner = try body.string("device_owner") ?? ""
        let requests = try body.array("fixed_ips").map(IPAM.parseRequests)
        let fixedIPs = try await IPAM(change: change).assign(portID: id, networkID: networkID, mac: mac, requests: requests)
        let portSecurity = try body.bool("port_security_enabled") ?? (network["port_security_enabled"]?.boolValue ?? true)
        let named = try body.strings("security_groups")
        let groups = named == nil && portSecurity && !owner.hasPrefix("network:")
            ? [defaultGroup] : try await securityGroups(named ?? [], project: project, portSecurity: portSecurity, change)
        let pairs = try Self.addressPairs(try body.array("allowed_address_pairs") ?? [], mac: mac)
        if !pairs.isEmpty && !portSecurity {
            throw NetFault.conflict("Port Security must be enabled in order to have allowed address pairs on a port.", type: "AddressPairAndPortSecurityRequired")
        }
        let host = try host ?? body.string("binding:host_id") ?? ""
        let vnic = try Self.vnicType(body) ?? "normal"
        var doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project), "network_id": .string(networkID),
            "name": .string(try body.string("name") ?? ""), "description": .string(try body.string("description") ?? ""),
            "admin_state_up": .bool(try body.bool("admin_state_up") ?? true), "status": "DOWN",
            "mac_address": .string(mac), "fixed_ips": .array(fixedIPs),
            "device_id": .string(try body.string("device_id") ?? ""), "device_owner": .string(owner),
            "security_groups": JSON(groups), "port_security_enabled": .bool(portSecurity),
            "allowed_address_pairs": .array(pairs), "extra_dhcp_opts": .array(try Self.dhcpOptions(body) ?? []),
            "binding:vnic_type": .string(vnic), "ip_allocation": "immediate",
            "propagate_uplink_status": .bool(try body.bool("propagate_uplink_status") ?? false),
            "tags": .array(try Tags.from(body)),
        ]
        Self.bind(&doc, host: host, profile: try Self.profile(body) ?? [:], backend: change.service.backend)
        doc["status"] = Self.status(doc)
        try await Self.checkServiceOwner(doc, change)
        // Only bound ports concern the data plane.
        if !host.isEmpty { change.note(.port(id)) }
        return try await change.insert(table, doc)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(Self.updatable)
        let caller = change.caller
        for key in Self.bindingAdminOnly + ["mac_address"] where body.has(key) && !caller.isAdmin {
            throw NetFault.policy("rule:update_port and rule:update_port:\(key)")
        }
        var doc = current
        let id = current["id"]?.stringValue ?? "", networkID = current["network_id"]?.stringValue ?? ""
        let project = current["project_id"]?.stringValue ?? ""
        if let network = try await change.get(.networks, networkID) {
            try Self.checkNetworkOwnerFields(body, network, change, action: "update_port")
        }
        if let mac = try body.string("mac_address"), mac != current["mac_address"]?.stringValue {
            if current["binding:vif_type"]?.stringValue != "unbound" {
                throw NetFault.conflict("Port \(id) is bound; its MAC address cannot change.", type: "PortBound")
            }
            doc["mac_address"] = .string(try await macAddress(mac, networkID: networkID, change))
        }
        if let list = try body.array("fixed_ips") {
            let held = (current["fixed_ips"]?.array ?? []).map { (subnet: $0["subnet_id"]?.stringValue ?? "", ip: $0["ip_address"]?.stringValue ?? "") }
            let requests = try IPAM.parseRequests(list)
            let kept = held.filter { h in requests.contains { $0.ip?.description == h.ip && ($0.subnetID == nil || $0.subnetID == h.subnet) } }
            try await change.store.release(portID: id, keeping: kept, in: change.db)
            doc["fixed_ips"] = .array(try await IPAM(change: change).assign(
                portID: id, networkID: networkID, mac: doc["mac_address"]?.stringValue ?? "", requests: requests, keeping: kept))
        }
        for key in ["name", "description", "device_id", "device_owner"] where body.has(key) { doc[key] = .string(try body.string(key) ?? "") }
        for key in ["admin_state_up", "propagate_uplink_status"] { if let v = try body.bool(key) { doc[key] = .bool(v) } }
        let portSecurity = try body.bool("port_security_enabled") ?? (current["port_security_enabled"]?.boolValue ?? true)
        doc["port_security_enabled"] = .bool(portSecurity)
        if body.has("security_groups") {
            doc["security_groups"] = JSON(try await securityGroups(try body.strings("security_groups") ?? [], project: project,
                                                                   portSecurity: portSecurity, change))
        }
        if !portSecurity && !(doc["security_groups"]?.array.isEmpty ?? true) {
            throw NetFault.conflict("Port has security group associated. Cannot disable port security or ip address until security group is removed", type: "PortSecurityAndIPRequiredForSecurityGroups")
        }
        if let pairs = try body.array("allowed_address_pairs") {
            doc["allowed_address_pairs"] = .array(try Self.addressPairs(pairs, mac: doc["mac_address"]?.stringValue ?? ""))
        }
        if !portSecurity && !(doc["allowed_address_pairs"]?.array.isEmpty ?? true) {
            throw NetFault.conflict("Port Security must be enabled in order to have allowed address pairs on a port.", type: "AddressPairAndPortSecurityRequired")
        }
        if let opts = try Self.dhcpOptions(body) { doc["extra_dhcp_opts"] = .array(opts) }
        if let vnic = try Self.vnicType(body) { doc["binding:vnic_type"] = .string(vnic) }
        if body.has("binding:host_id") || body.has("binding:profile") {
            Self.bind(&doc, host: try body.string("binding:host_id") ?? (body.has("binding:host_id") ? "" : current["binding:host_id"]?.stringValue ?? ""),
                      profile: try Self.profile(body) ?? current["binding:profile"] ?? [:], backend: change.service.backend)
        }
        doc["status"] = Self.status(doc, was: current)
        try await Self.checkServiceOwner(doc, change)
        change.note(.port(id))
        return doc
    }

    /// Addresses, MACs, anti-spoofing and service owners are for the network's owner (and admins):
    /// a guest on a shared network must not squat a gateway or switch off filtering.
    static func checkNetworkOwnerFields(_ body: Body, _ network: Doc, _ change: Change, action: String) throws {
        guard !change.caller.isAdmin, network["project_id"]?.stringValue != change.caller.projectID else { return }
        for key in ["mac_address", "port_security_enabled", "allowed_address_pairs"] where body.has(key) {
            throw NetFault.policy("rule:\(action) and rule:\(action):\(key)")
        }
        if let ips = try body.array("fixed_ips"), ips.contains(where: { $0["ip_address"] != nil }) {
            throw NetFault.policy("rule:\(action) and rule:\(action):fixed_ips:ip_address")
        }
        if try body.string("device_owner")?.hasPrefix("network:") == true {
            throw NetFault.policy("rule:\(action) and rule:\(action):device_owner")
        }
    }

    /// A port that claims to belong to a router or floating IP must name one its project owns.
    static func checkServiceOwner(_ doc: Doc, _ change: Change) async throws {
        let owner = doc["device_owner"]?.stringValue ?? "", device = doc["device_id"]?.stringValue ?? ""
        guard !change.caller.isAdmin, serviceOwners.contains(owner), !device.isEmpty else { return }
        let table: ResourceTable = owner == "network:floatingip" ? .floatingIPs : .routers
        guard let target = try await change.get(table, device), change.caller.owns(target) else {
            throw NetFault.policy("rule:create_port and rule:create_port:device_owner")
        }
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let owner = current["device_owner"]?.stringValue ?? ""
        let device = current["device_id"]?.stringValue ?? ""
        let ownerTable: ResourceTable = owner == "network:floatingip" ? .floatingIPs : .routers
        if Self.serviceOwners.contains(owner), try await change.get(ownerTable, device) != nil {
            throw NetFault.conflict("Port \(current["id"]?.stringValue ?? "") cannot be deleted directly via the port API: has device owner \(owner).", type: "ServicePortInUse")
        }
        try await Self.remove(current, change)
    }

    /// Deletes a port with what hangs off it: its addresses, and the association of floating IPs.
    static func remove(_ port: Doc, _ change: Change) async throws {
        let id = port["id"]?.stringValue ?? ""
        for fip in try await change.rows(ResourceTable.floatingIPs, "port_id = \(bind: id)") {
            try await FloatingIPs.disassociate(fip, change)
        }
        try await change.store.release(portID: id, in: change.db)
        try await change.delete(ResourceTable.ports, id)
        change.note(.portDeleted(id))
    }

    /// A network-owned port (router interface or gateway, floating IP, DHCP) made by the service itself.
    static func createServicePort(network: String, owner: String, deviceID: String, project: String,
                                  requests: [IPAM.Request]?, _ change: Change) async throws -> Doc {
        let id = Identifier.uuid()
        let mac = try await Ports().macAddress(nil, networkID: network, change)
        let fixed = try await IPAM(change: change).assign(portID: id, networkID: network, mac: mac, requests: requests)
        var doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project), "network_id": .string(network),
            "name": "", "description": "", "admin_state_up": true, "status": "ACTIVE", "mac_address": .string(mac),
            "fixed_ips": .array(fixed), "device_id": .string(deviceID), "device_owner": .string(owner),
            "security_groups": [], "port_security_enabled": false, "allowed_address_pairs": [], "extra_dhcp_opts": [],
            "binding:vnic_type": "normal", "ip_allocation": "immediate", "propagate_uplink_status": false, "tags": [],
        ]
        bind(&doc, host: "", profile: [:], backend: change.service.backend)
        change.note(.port(id))
        return try await change.insert(ResourceTable.ports, doc)
    }

    static func bind(_ doc: inout Doc, host: String, profile: JSON, backend: any NetworkBackend) {
        doc["binding:host_id"] = .string(host)
        doc["binding:profile"] = profile == .null ? [:] : profile
        doc["binding:vif_type"] = .string(host.isEmpty ? "unbound" : backend.vifType(host: host))
        doc["binding:vif_details"] = host.isEmpty ? [:] : ["port_filter": true, "connectivity": "l2"]
    }

    /// Service ports are up as soon as they exist; others once bound to a host and administratively up.
    /// A bound port is `DOWN` until the data plane has wired it on its host and says so (it stays
    /// `ACTIVE` through changes that keep it there); the service's own ports are always `ACTIVE`.
    static func status(_ doc: Doc, was previous: Doc? = nil) -> JSON {
        if serviceOwners.contains(doc["device_owner"]?.stringValue ?? "") { return "ACTIVE" }
        let host = doc["binding:host_id"]?.stringValue ?? ""
        guard !host.isEmpty, doc["admin_state_up"] != false else { return "DOWN" }
        if let previous, previous["status"] == "ACTIVE", previous["binding:host_id"]?.stringValue == host { return "ACTIVE" }
        return "DOWN"
    }

    static func profile(_ body: Body) throws -> JSON? {
        switch body.members["binding:profile"] {
        case nil, .null?: return nil
        case .object(let profile)?: return .object(profile)
        case let other?: throw NetFault.invalid("binding:profile", "'\(other.text)' is not a dictionary")
        }
    }

    /// `extra_dhcp_opts`: `{opt_name, opt_value[, ip_version]}` objects, as DHCP will be told them.
    static func dhcpOptions(_ body: Body) throws -> [JSON]? {
        try body.array("extra_dhcp_opts")?.map { item in
            guard let option = item.objectValue, let name = option["opt_name"]?.stringValue, !name.isEmpty,
                  Set(option.keys).isSubset(of: ["opt_name", "opt_value", "ip_version"]) else {
                throw NetFault.invalid("extra_dhcp_opts", "'\(item.text)' is not {opt_name, opt_value[, ip_version]}")
            }
            // DHCP's files take one option a line: a name or value that could start another is refused.
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw NetFault.invalid("extra_dhcp_opts", "'\(name)' is not a DHCP option name or number")
            }
            switch option["opt_value"] {
            case .string(let value)?:
                if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    throw NetFault.invalid("extra_dhcp_opts", "the value of \(name) has a control character")
                }
            case .null?, nil: break
            default: throw NetFault.invalid("extra_dhcp_opts", "the value of \(name) must be a string")
            }
            switch option["ip_version"] {
            case nil, .null?, 4?, 6?: break
            default: throw NetFault.invalid("extra_dhcp_opts", "the ip_version of \(name) must be 4 or 6")
            }
            return item
        }
    }

    static func vnicType(_ body: Body) throws -> String? {
        guard let vnic = try body.string("binding:vnic_type") else { return nil }
        guard vnicTypes.contains(vnic) else { throw NetFault.invalid("binding:vnic_type", "'\(vnic)' is not in \(vnicTypes.sorted())") }
        return vnic
    }

    func macAddress(_ requested: String?, networkID: String, _ change: Change) async throws -> String {
        if let requested {
            guard let mac = MACAddress.normalized(requested) else { throw NetFault.invalid("mac_address", "'\(requested)' is not a valid MAC address") }
            if try await change.store.count(table, where: "network_id = \(bind: networkID) AND mac_address = \(bind: mac)", in: change.db) > 0 {
                throw NetFault.conflict("Unable to complete operation for network \(networkID). The mac address \(mac) is in use.", type: "MacAddressInUse")
            }
            return mac
        }
        for _ in 0..<16 {
            let mac = MACAddress.random(base: change.service.settings.baseMAC)
            if try await change.store.count(table, where: "network_id = \(bind: networkID) AND mac_address = \(bind: mac)", in: change.db) == 0 {
                return mac
            }
        }
        throw APIError(.serviceUnavailable, "Unable to generate unique mac on network \(networkID).", type: "MacAddressGenerationFailure")
    }

    /// The groups named for a port, which must exist and be the port's project's (or shared).
    private func securityGroups(_ named: [String], project: String, portSecurity: Bool, _ change: Change) async throws -> [String] {
        if !named.isEmpty && !portSecurity {
            throw NetFault.badRequest("Port security must be enabled and port must have an IP address in order to use security groups.", type: "PortSecurityAndIPRequiredForSecurityGroups")
        }
        var ids: [String] = []
        var statefulness: Set<Bool> = []
        for id in named where !ids.contains(id) {
            guard Body.isUUID(id), let group = try await change.get(ResourceTable.securityGroups, id),
                  change.caller.isAdmin || group["project_id"]?.stringValue == project || group["shared"] == true else {
                throw NetFault.notFound(ResourceTable.securityGroups, id)
            }
            ids.append(id)
            statefulness.insert(group["stateful"] != false)
        }
        // The data plane filters a port with or without conntrack's help, not both.
        if statefulness.count > 1 {
            throw NetFault.conflict("Error Cannot apply both stateful and stateless security groups on the same port at the same time "
                                    + "while attempting port create/update while attempting the operation.", type: "SecurityGroupConflict")
        }
        return ids
    }

    static func addressPairs(_ list: [JSON], mac: String) throws -> [JSON] {
        if list.count > 10 { throw NetFault.badRequest("Exceeded maximum amount of allowed address pairs 10", type: "AllowedAddressPairExhausted") }
        var pairs: [JSON] = []
        for item in list {
            guard let object = item.objectValue, let ip = object["ip_address"]?.stringValue else {
                throw NetFault.badRequest("AllowedAddressPair must contain ip_address", type: "AllowedAddressPairsMissingIP")
            }
            let unknown = Set(object.keys).subtracting(["ip_address", "mac_address"])
            if !unknown.isEmpty { throw NetFault.badRequest("Unrecognized attribute(s) '\(unknown.sorted().joined(separator: ", "))'") }
            guard IPAddress(ip) != nil || CIDR(ip, strict: false) != nil else {
                throw NetFault.invalid("allowed_address_pairs", "'\(ip)' is not a valid IP address or CIDR")
            }
            var pairMAC = mac
            if let given = object["mac_address"], given != .null {
                guard let text = given.stringValue, let normalized = MACAddress.normalized(text) else {
                    throw NetFault.invalid("allowed_address_pairs", "'\(given.text)' is not a valid MAC address")
                }
                pairMAC = normalized
            }
            let pair: JSON = ["ip_address": .string(ip), "mac_address": .string(pairMAC)]
            if pairs.contains(pair) { throw NetFault.badRequest("Request contains duplicate address pair: mac_address \(pairMAC) ip_address \(ip).", type: "DuplicateAddressPairInRequest") }
            pairs.append(pair)
        }
        return pairs
    }
}
