import MartletCore
import SQLKit

/// Networks: L2 segments, their provider attributes and the tenant segment pool.
struct Networks: ResourceKind {
    let table = ResourceTable.networks

    static let adminOnly = ["shared", "router:external", "provider:network_type", "provider:physical_network",
                            "provider:segmentation_id", "is_default"]
    static let updatable: Set<String> = ["name", "admin_state_up", "shared", "router:external", "mtu",
                                         "port_security_enabled", "description", "is_default", "availability_zone_hints"]

    func visibility(_ caller: Caller) -> SQLQueryString {
        "(project_id = \(bind: caller.projectID) OR shared = 'true' OR external = 'true')"
    }

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(Self.updatable.union(["project_id", "tenant_id", "provider:network_type", "provider:physical_network",
                                             "provider:segmentation_id", "tags", "dns_domain", "qos_policy_id"]))
        let caller = change.caller
        for key in Self.adminOnly where body.setsOtherThanDefault(key) && !caller.isAdmin {
            throw NetFault.policy("rule:create_network and rule:create_network:\(key)")
        }
        let id = Identifier.uuid()
        let project = try change.owner(body)
        try await change.checkQuota("network", project: project, table: table)
        let segment = try await change.service.segments.allocate(
            networkID: id, type: try body.string("provider:network_type"), physnet: try body.string("provider:physical_network"),
            segmentationID: try body.int("provider:segmentation_id"), in: change)
        let maxMTU = change.service.settings.mtu(for: segment.type)
        let mtu = try body.int("mtu") ?? maxMTU
        try Self.checkMTU(mtu, max: maxMTU)
        var doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project),
            "name": .string(try body.string("name") ?? ""), "description": .string(try body.string("description") ?? ""),
            "admin_state_up": .bool(try body.bool("admin_state_up") ?? true), "status": "ACTIVE",
            "shared": .bool(try body.bool("shared") ?? false), "router:external": .bool(try body.bool("router:external") ?? false),
            "mtu": .int(Int64(mtu)), "port_security_enabled": .bool(try body.bool("port_security_enabled") ?? true),
            "subnets": [], "availability_zone_hints": .array(try body.strings("availability_zone_hints")?.map { .string($0) } ?? []),
            "availability_zones": [], "ipv4_address_scope": nil, "ipv6_address_scope": nil, "l2_adjacency": true,
            "is_default": .bool(try body.bool("is_default") ?? false), "tags": .array(try Tags.from(body)),
        ]
        doc["provider:network_type"] = .string(segment.type)
        doc["provider:physical_network"] = JSON(segment.physnet)
        doc["provider:segmentation_id"] = segment.id.map { .int(Int64($0)) } ?? .null
        change.note(.network(id))
        return try await change.insert(table, doc)
    }

    static func checkMTU(_ mtu: Int, max: Int) throws {
        if mtu < 68 { throw NetFault.invalid("mtu", "'\(mtu)' is too small, must be at least 68") }
        if mtu > max { throw NetFault.badRequest("Requested MTU is too big, maximum is \(max)", type: "InvalidInput") }
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        for key in ["provider:network_type", "provider:physical_network", "provider:segmentation_id"] where body.has(key) {
            throw NetFault.badRequest("Invalid input for operation: Plugin does not support updating provider attributes.", type: "InvalidInput")
        }
        try body.only(Self.updatable)
        for key in Self.adminOnly where body.has(key) && !change.caller.isAdmin {
            throw NetFault.policy("rule:update_network and rule:update_network:\(key)")
        }
        var doc = current
        let id = current["id"]?.stringValue ?? ""
        if let shared = try body.bool("shared"), !shared, current["shared"] == true {
            let owner = current["project_id"]?.stringValue ?? ""
            let foreign = try await change.store.count(ResourceTable.ports, where: """
                network_id = \(bind: id) AND project_id <> \(bind: owner) AND project_id <> '' \
                AND (device_owner IS NULL OR device_owner NOT LIKE 'network:%')
                """, in: change.db)
            if foreign > 0 {
                throw NetFault.conflict("Unable to reconfigure sharing settings for network \(id). Multiple tenants are using it.", type: "InvalidSharedSetting")
            }
        }
        if let external = try body.bool("router:external"), !external, current["router:external"] == true {
            let used = try await change.store.count(ResourceTable.ports, where: """
                network_id = \(bind: id) AND device_owner IN ('network:router_gateway', 'network:floatingip')
                """, in: change.db)
            if used > 0 { throw NetFault.conflict("External network \(id) cannot be updated to be internal while routers or floating IPs use it.", type: "ExternalNetworkInUse") }
        }
        if let mtu = try body.int("mtu") {
            try Self.checkMTU(mtu, max: change.service.settings.mtu(for: current["provider:network_type"]?.stringValue ?? "vxlan"))
            doc["mtu"] = .int(Int64(mtu))
        }
        for key in ["name", "description"] where body.has(key) { doc[key] = .string(try body.string(key) ?? "") }
        for key in ["admin_state_up", "shared", "router:external", "port_security_enabled", "is_default"] {
            if let value = try body.bool(key) { doc[key] = .bool(value) }
        }
        if let hints = try body.strings("availability_zone_hints") { doc["availability_zone_hints"] = JSON(hints) }
        if doc["router:external"] != current["router:external"] {
            // Subnets show whether their network is external.
            for var subnet in try await change.rows(ResourceTable.subnets, "network_id = \(bind: id)") {
                subnet["router:external"] = doc["router:external"]
                try await change.update(ResourceTable.subnets, subnet)
            }
        }
        change.note(.network(id))
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        // Floating IPs go with their external network, as in Neutron.
        for fip in try await change.rows(ResourceTable.floatingIPs, "floating_network_id = \(bind: id)") {
            try await FloatingIPs().delete(fip, change)
        }
        let ports = try await change.rows(ResourceTable.ports, "network_id = \(bind: id)")
        if ports.contains(where: { $0["device_owner"]?.stringValue != "network:dhcp" }) {
            throw NetFault.conflict("Unable to complete operation on network \(id). There are one or more ports still in use on the network.", type: "NetworkInUse")
        }
        for port in ports { try await Ports.remove(port, change) }
        for subnet in try await change.rows(ResourceTable.subnets, "network_id = \(bind: id)") {
            try await change.delete(ResourceTable.subnets, subnet["id"]?.stringValue ?? "")
        }
        try await change.store.removeSegment(networkID: id, in: change.db)
        try await AgentScheduler.forget(id, .networks, change)
        try await change.delete(table, id)
        change.note(.networkDeleted(id))
    }

    /// A network the caller may use: its own, shared, or (for admins) any. Others are 404.
    static func usable(_ id: String, _ change: Change, external: Bool = false) async throws -> Doc {
        guard let network = try await change.get(ResourceTable.networks, id),
              change.caller.owns(network) || network["shared"] == true || (external && network["router:external"] == true) else {
            throw NetFault.notFound(ResourceTable.networks, id)
        }
        return network
    }

    /// Adds or removes a subnet id in the network's `subnets` (the subnet row is already stored or gone).
    static func setSubnet(_ subnetID: String, on networkID: String, present: Bool, _ change: Change) async throws {
        guard var network = try await change.get(ResourceTable.networks, networkID) else { return }
        var ids = network["subnets"]?.array.compactMap(\.stringValue) ?? []
        ids.removeAll { $0 == subnetID }
        if present { ids.append(subnetID) }
        network["subnets"] = JSON(ids)
        // A subnet from a pool puts the network in the pool's address scope; its last one takes it out.
        try await AddressScopes.showScopes(&network, change)
        try await change.update(ResourceTable.networks, network)
        change.note(.network(networkID))
    }
}

/// Segment ids for networks: explicit provider segments checked, tenant segments allocated from the
/// configured ranges.
struct Segments: Sendable {
    let settings: NetworkSettings

    struct Segment { let type: String; let physnet: String?; let id: Int? }

    func allocate(networkID: String, type: String?, physnet: String?, segmentationID: Int?, in change: Change) async throws -> Segment {
        let store = change.store, db = change.db
        let type = type ?? settings.tenantNetworkType
        let explicit = type != settings.tenantNetworkType || physnet != nil || segmentationID != nil
        switch type {
        case "local":
            if physnet != nil || segmentationID != nil {
                throw NetFault.badRequest("Invalid input for operation: local networks take no physical network or segmentation id.", type: "InvalidInput")
            }
            return Segment(type: "local", physnet: nil, id: nil)
        case "flat":
            guard let physnet else { throw NetFault.badRequest("Invalid input for operation: physical_network required for flat provider network.", type: "InvalidInput") }
            if segmentationID != nil { throw NetFault.badRequest("Invalid input for operation: segmentation_id specified for flat provider network.", type: "InvalidInput") }
            guard settings.flatNetworks.contains("*") || settings.flatNetworks.contains(physnet) else {
                throw NetFault.badRequest("Invalid input for operation: physical_network '\(physnet)' unknown for flat provider network.", type: "InvalidInput")
            }
            if try await store.segmentTaken(type: "flat", physnet: physnet, id: 0, in: db) {
                throw NetFault.conflict("Unable to create the flat network. Physical network \(physnet) is in use.", type: "FlatNetworkInUse")
            }
            try await store.addSegment(networkID: networkID, type: "flat", physnet: physnet, id: 0, in: db)
            return Segment(type: "flat", physnet: physnet, id: nil)
        case "vlan":
            let physnet = physnet ?? (explicit ? nil : settings.vlanRanges.first?.physnet)
            guard let physnet else { throw NetFault.badRequest("Invalid input for operation: physical_network required for VLAN provider network.", type: "InvalidInput") }
            if let id = segmentationID {
                guard (1...4094).contains(id) else {
                    throw NetFault.badRequest("Invalid input for operation: segmentation_id out of range (1 through 4094).", type: "InvalidInput")
                }
                if try await store.segmentTaken(type: "vlan", physnet: physnet, id: id, in: db) {
                    throw NetFault.conflict("Unable to create the network. The VLAN \(id) on physical network \(physnet) is in use.", type: "VlanIdInUse")
                }
                try await store.addSegment(networkID: networkID, type: "vlan", physnet: physnet, id: id, in: db)
                return Segment(type: "vlan", physnet: physnet, id: id)
            }
            let ranges = settings.vlanRanges.filter { $0.physnet == physnet }.map(\.range)
            let id = try await pick(type: "vlan", physnet: physnet, ranges: ranges, networkID: networkID, in: change)
            return Segment(type: "vlan", physnet: physnet, id: id)
        case "vxlan":
            if physnet != nil { throw NetFault.badRequest("Invalid input for operation: provider:physical_network specified for vxlan network.", type: "InvalidInput") }
            if let id = segmentationID {
                guard (1...16_777_215).contains(id) else {
                    throw NetFault.badRequest("Invalid input for operation: segmentation_id out of range (1 through 16777215).", type: "InvalidInput")
                }
                if try await store.segmentTaken(type: "vxlan", physnet: "", id: id, in: db) {
                    throw NetFault.conflict("Unable to create the network. The tunnel ID \(id) is in use.", type: "TunnelIdInUse")
                }
                try await store.addSegment(networkID: networkID, type: "vxlan", physnet: "", id: id, in: db)
                return Segment(type: "vxlan", physnet: nil, id: id)
            }
            let id = try await pick(type: "vxlan", physnet: "", ranges: settings.vxlanRanges, networkID: networkID, in: change)
            return Segment(type: "vxlan", physnet: nil, id: id)
        default:
            throw NetFault.badRequest("Invalid input for operation: network_type value '\(type)' not supported.", type: "InvalidInput")
        }
    }

    /// The lowest free id in `ranges`; 503 when none is left, as Neutron answers.
    private func pick(type: String, physnet: String, ranges: [ClosedRange<Int>], networkID: String, in change: Change) async throws -> Int {
        try await change.store.lock("segments:\(type):\(physnet)", in: change.db)
        let used = try await change.store.usedSegments(type: type, physnet: physnet, in: change.db)
        for range in ranges {
            if let id = range.first(where: { !used.contains($0) }) {
                try await change.store.addSegment(networkID: networkID, type: type, physnet: physnet, id: id, in: change.db)
                return id
            }
        }
        throw APIError(.serviceUnavailable, "Unable to create the network. No tenant network is available for allocation.", type: "NoNetworkAvailable")
    }
}
