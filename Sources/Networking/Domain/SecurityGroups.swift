import MartletCore
import MartletStore
import SQLKit

/// Security groups, each with its rules; every project has a `default` group made on first use.
struct SecurityGroups: ResourceKind {
    let table = ResourceTable.securityGroups

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["name", "description", "stateful", "project_id", "tenant_id", "tags", "shared"])
        let project = try change.owner(body)
        let name = try body.string("name") ?? ""
        _ = try await Self.ensureDefault(project: project, change)
        if name == "default" {
            throw NetFault.conflict("Default security group already exists.", type: "SecurityGroupDefaultAlreadyExists")
        }
        try await change.checkQuota("security_group", project: project, table: table)
        return try await Self.make(project: project, name: name, description: try body.string("description") ?? "",
                                   stateful: try body.bool("stateful") ?? true, tags: try Tags.from(body), isDefault: false, change)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["name", "description", "stateful"])
        var doc = current
        if let name = try body.string("name") {
            if (current["name"]?.stringValue == "default") != (name == "default") {
                throw NetFault.conflict("Updating default security group not allowed.", type: "SecurityGroupCannotUpdateDefault")
            }
            doc["name"] = .string(name)
        }
        if body.has("description") { doc["description"] = .string(try body.string("description") ?? "") }
        if let stateful = try body.bool("stateful") { doc["stateful"] = .bool(stateful) }
        change.note(.securityGroup(current["id"]?.stringValue ?? ""))
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        let project = current["project_id"]?.stringValue ?? ""
        if try await change.store.defaultSecurityGroup(project: project, in: change.db) == id, !change.caller.isAdmin {
            throw NetFault.conflict("Insufficient rights for removing default security group.", type: "SecurityGroupCannotRemoveDefault")
        }
        // Ports name their groups inside their documents: a text scan finds the candidates.
        let ports = try await change.rows(ResourceTable.ports, "doc LIKE \(bind: "%" + id + "%")")
        if ports.contains(where: { $0["security_groups"]?.array.contains(.string(id)) == true }) {
            throw NetFault.conflict("Security Group \(id) in use.", type: "SecurityGroupInUse")
        }
        for rule in try await change.rows(.securityGroupRules, "remote_group_id = \(bind: id)") {
            change.note(.securityGroup(rule["security_group_id"]?.stringValue ?? ""))
        }
        try await change.db.raw("DELETE FROM net_security_group_rules WHERE security_group_id = \(bind: id) OR remote_group_id = \(bind: id)").run()
        try await change.store.removeDefaultSecurityGroup(groupID: id, in: change.db)
        try await change.delete(table, id)
        change.note(.securityGroup(id))
    }

    let expands = true

    /// Groups are shown with their rules.
    func expand(_ docs: [Doc], _ db: any SQLDatabase, _ store: NetworkStore) async throws -> [Doc] {
        guard !docs.isEmpty else { return [] }
        let ids = docs.compactMap { $0["id"]?.stringValue }
        var rules: [String: [JSON]] = [:]
        for rule in try await store.rows(ResourceTable.securityGroupRules, where: "security_group_id IN \(SQLQueryString.list(ids))", in: db) {
            rules[rule["security_group_id"]?.stringValue ?? "", default: []].append(.object(rule))
        }
        return docs.map { doc in
            var doc = doc
            doc["security_group_rules"] = .array(rules[doc["id"]?.stringValue ?? ""] ?? [])
            return doc
        }
    }

    /// The project's default group, made with Neutron's default rules the first time it is needed.
    static func ensureDefault(project: String, _ change: Change) async throws -> String {
        guard !project.isEmpty else { return "" }
        if let id = try await change.store.defaultSecurityGroup(project: project, in: change.db) { return id }
        try await change.store.lock("default-sg:\(project)", in: change.db)
        if let id = try await change.store.defaultSecurityGroup(project: project, in: change.db) { return id }
        let group = try await make(project: project, name: "default", description: "Default security group", stateful: true,
                                   tags: [], isDefault: true, change)
        let id = group["id"]?.stringValue ?? ""
        try await change.store.setDefaultSecurityGroup(project: project, groupID: id, in: change.db)
        return id
    }

    /// A new group with egress open; the default group also admits ingress from its own members.
    private static func make(project: String, name: String, description: String, stateful: Bool, tags: [JSON],
                             isDefault: Bool, _ change: Change) async throws -> Doc {
        let id = Identifier.uuid()
        let doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project), "name": .string(name),
            "description": .string(description), "stateful": .bool(stateful), "shared": false, "tags": .array(tags),
        ]
        let stored = try await change.insert(ResourceTable.securityGroups, doc)
        var rules: [JSON] = []
        for ethertype in ["IPv4", "IPv6"] {
            rules.append(.object(try await SecurityGroupRules.insert(
                group: id, project: project, direction: "egress", ethertype: ethertype, isDefault: isDefault, change)))
            if isDefault {
                rules.append(.object(try await SecurityGroupRules.insert(
                    group: id, project: project, direction: "ingress", ethertype: ethertype, remoteGroup: id, isDefault: true, change)))
            }
        }
        change.note(.securityGroup(id))
        return stored.merging(["security_group_rules": .array(rules)]) { _, new in new }
    }
}

/// Security group rules: direction, ethertype, protocol and ports, and whom they admit.
struct SecurityGroupRules: ResourceKind {
    let table = ResourceTable.securityGroupRules

    static let protocols: [String: Int] = [
        "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ip": 0, "ipip": 4,
        "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
        "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
    ]
    static let portProtocols: Set<String> = ["tcp", "udp", "sctp", "udplite", "dccp", "6", "17", "132", "136", "33"]
    static let icmpProtocols: Set<String> = ["icmp", "ipv6-icmp", "icmpv6", "1", "58"]

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                       "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "description", "project_id", "tenant_id"])
        guard let groupID = try body.uuid("security_group_id") else { throw NetFault.invalid("security_group_id", "'None' is not a valid UUID") }
        guard let group = try await change.get(ResourceTable.securityGroups, groupID), change.caller.owns(group) else {
            throw NetFault.notFound(ResourceTable.securityGroups, groupID)
        }
        let project = group["project_id"]?.stringValue ?? change.caller.projectID
        guard let direction = try body.string("direction"), ["ingress", "egress"].contains(direction) else {
            throw NetFault.invalid("direction", "'\(try body.string("direction") ?? "None")' is not in ['ingress', 'egress']")
        }
        let ethertypeText = try body.string("ethertype") ?? "IPv4"
        guard let ethertype = ["ipv4": "IPv4", "ipv6": "IPv6"][ethertypeText.lowercased()] else {
            throw NetFault.badRequest("Security group rule for ethertype '\(ethertypeText)' not supported. Allowed values are ['IPv4', 'IPv6'].", type: "SecurityGroupRuleInvalidEtherType")
        }
        let proto = try Self.protocolValue(body)
        let (low, high) = try Self.ports(body, proto: proto)
        var prefix: String?
        if let text = try body.string("remote_ip_prefix") {
            guard let cidr = CIDR(text, strict: false) else { throw NetFault.invalid("remote_ip_prefix", "'\(text)' is not a valid IP subnet") }
            if (cidr.version == 4) != (ethertype == "IPv4") {
                throw NetFault.badRequest("Conflicting value ethertype \(ethertype) for CIDR \(text)", type: "SecurityGroupRuleParameterConflict")
            }
            prefix = cidr.description
        }
        let remoteGroup = try body.string("remote_group_id")
        if prefix != nil && remoteGroup != nil {
            throw NetFault.badRequest("Only remote_ip_prefix or remote_group_id may be provided.", type: "SecurityGroupRemoteGroupAndRemoteIpPrefix")
        }
        if let remoteGroup {
            guard let remote = try await change.get(ResourceTable.securityGroups, remoteGroup), change.caller.owns(remote) else {
                throw NetFault.notFound(ResourceTable.securityGroups, remoteGroup)
            }
        }
        for existing in try await change.rows(table, "security_group_id = \(bind: groupID)") {
            if existing["direction"]?.stringValue == direction, existing["ethertype"]?.stringValue == ethertype,
               Self.protocolNumber(existing["protocol"]?.stringValue) == Self.protocolNumber(proto),
               existing["port_range_min"]?.intValue.map(Int.init) == low, existing["port_range_max"]?.intValue.map(Int.init) == high,
               Self.prefixKey(existing["remote_ip_prefix"]?.stringValue) == Self.prefixKey(prefix),
               existing["remote_group_id"]?.stringValue == remoteGroup {
                throw NetFault.conflict("Security group rule already exists. Rule id is \(existing["id"]?.stringValue ?? "").", type: "SecurityGroupRuleExists")
            }
        }
        try await change.checkQuota("security_group_rule", project: project, table: table)
        let isDefault = try await change.store.defaultSecurityGroup(project: project, in: change.db) == groupID
        change.note(.securityGroup(groupID))
        return try await Self.insert(group: groupID, project: project, direction: direction, ethertype: ethertype, proto: proto,
                                     low: low, high: high, prefix: prefix, remoteGroup: remoteGroup,
                                     description: try body.string("description") ?? "", isDefault: isDefault, change)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["description"])
        var doc = current
        doc["description"] = .string(try body.string("description") ?? "")
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        try await change.delete(table, current["id"]?.stringValue ?? "")
        change.note(.securityGroup(current["security_group_id"]?.stringValue ?? ""))
    }

    @discardableResult
    static func insert(group: String, project: String, direction: String, ethertype: String, proto: String? = nil,
                       low: Int? = nil, high: Int? = nil, prefix: String? = nil, remoteGroup: String? = nil,
                       description: String = "", isDefault: Bool, _ change: Change) async throws -> Doc {
        let doc: Doc = [
            "id": .string(Identifier.uuid()), "project_id": .string(project), "tenant_id": .string(project),
            "security_group_id": .string(group), "direction": .string(direction), "ethertype": .string(ethertype),
            "protocol": JSON(proto), "port_range_min": low.map { .int(Int64($0)) } ?? .null,
            "port_range_max": high.map { .int(Int64($0)) } ?? .null, "remote_ip_prefix": JSON(prefix),
            "remote_group_id": JSON(remoteGroup), "remote_address_group_id": nil, "description": .string(description),
            "normalized_cidr": JSON(prefix), "belongs_to_default_sg": .bool(isDefault),
        ]
        return try await change.insert(ResourceTable.securityGroupRules, doc)
    }

    /// Duplicates are found as Neutron finds them: `tcp` and `6` are one protocol.
    static func protocolNumber(_ proto: String?) -> Int? {
        guard let proto else { return nil }
        return protocols[proto] ?? Int(proto)
    }

    /// …and a prefix of every address is the same as none.
    static func prefixKey(_ prefix: String?) -> String? {
        prefix == "0.0.0.0/0" || prefix == "::/0" ? nil : prefix
    }

    /// The protocol as Neutron stores it: a known name, or a number 0–255 as text; nil for any.
    static func protocolValue(_ body: Body) throws -> String? {
        let raw: String
        switch body.members["protocol"] {
        case nil, .null?: return nil
        case .int(let i)?: raw = String(i)
        case .string(let s)?: raw = s.lowercased()
        default: raw = body.members["protocol"]!.text
        }
        if raw == "any" { return nil }
        if protocols[raw] != nil { return raw }
        if let number = Int(raw), (0...255).contains(number) { return String(number) }
        throw NetFault.badRequest("Security group rule protocol \(raw) not supported. Only protocol values \(protocols.keys.sorted()) and integer representations [0 to 255] are supported.", type: "SecurityGroupRuleInvalidProtocol")
    }

    static func ports(_ body: Body, proto: String?) throws -> (Int?, Int?) {
        let low = try body.int("port_range_min"), high = try body.int("port_range_max")
        guard low != nil || high != nil else { return (nil, nil) }
        guard let proto else {
            throw NetFault.badRequest("Must also specify protocol if port range is given.", type: "SecurityGroupProtocolRequiredWithPorts")
        }
        if portProtocols.contains(proto) {
            for port in [low, high].compactMap({ $0 }) where !(1...65535).contains(port) {
                throw NetFault.badRequest("Invalid value for port \(port).", type: "SecurityGroupInvalidPortValue")
            }
            guard let low, let high, low <= high else {
                throw NetFault.badRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max", type: "SecurityGroupInvalidPortRange")
            }
            return (low, high)
        }
        if icmpProtocols.contains(proto) {
            for (name, value) in [("type", low), ("code", high)] {
                if let value, !(0...255).contains(value) {
                    throw NetFault.badRequest("Invalid value for ICMP \(name) (port_range_\(name == "type" ? "min" : "max")) \(value). It must be 0 to 255.", type: "SecurityGroupInvalidIcmpValue")
                }
            }
            if low == nil, high != nil {
                throw NetFault.badRequest("ICMP code (port-range-max) \(high!) is provided but ICMP type (port-range-min) is missing.", type: "SecurityGroupMissingIcmpType")
            }
            return (low, high)
        }
        throw NetFault.badRequest("Invalid protocol \(proto) for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.", type: "SecurityGroupInvalidProtocolForPort")
    }
}
