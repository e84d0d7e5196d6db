import Foundation
import Hummingbird
import MartletCore
import ServiceContracts

/// Nova's view of Networking, served until 2.36 removed it: `os-security-groups`,
/// `os-security-group-rules`, a server's groups, `os-networks` and `os-tenant-networks`.
struct NetworkProxyRoutes {
    let service: ComputeService
    var networks: any NetworkResources { service.networks }

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-security-groups", rule: "os_compute_api:os-security-groups") { call in
            let who = try caller(call)
            let all = who.isAdmin && ["1", "true", "True"].contains(call.query("all_tenants") ?? "")
            let groups = try await proxied { try await networks.list("security_groups", as: who, matching: all || !who.isAdmin ? [:] : ["project_id": who.projectID]) }
            return .json(.ok, ["security_groups": .array(try await groups.asyncMap { try await group($0, who) })])
        }
        r.get("/v2.1/os-security-groups/:id", rule: "os_compute_api:os-security-groups") { call in
            let who = try caller(call)
            let id = try call.param("id")
            return .json(.ok, ["security_group": try await group(try await proxied { try await networks.show("security_groups", id, as: who) }, who)])
        }
        r.post("/v2.1/os-security-groups", rule: "os_compute_api:os-security-groups:create") { call in
            let who = try caller(call)
            let body = try groupBody(try await call.body())
            let made = try await proxied { try await networks.create("security_groups", body, as: who) }
            return .json(.ok, ["security_group": try await group(made, who)])
        }
        r.put("/v2.1/os-security-groups/:id", rule: "os_compute_api:os-security-groups:update") { call in
            let who = try caller(call)
            let id = try call.param("id")
            let body = try groupBody(try await call.body())
            let updated = try await proxied { try await networks.update("security_groups", id, body, as: who) }
            return .json(.ok, ["security_group": try await group(updated, who)])
        }
        r.delete("/v2.1/os-security-groups/:id", rule: "os_compute_api:os-security-groups:delete") { call in
            let who = try caller(call)
            let id = try call.param("id")
            // A server that names the group holds it, with or without ports.
            let group = try await proxied { try await networks.show("security_groups", id, as: who) }
            let names = Set([id, group["name"]?.stringValue ?? id])
            let users = try await service.db.read {
                try await service.servers.list("project_id = \(bind: group["project_id"]?.stringValue ?? "")", limit: nil, in: $0)
            }
            if users.contains(where: { !names.isDisjoint(with: $0.securityGroups) }) {
                throw APIError.badRequest("Security group \(id) is in use by a server.")
            }
            try await proxied { try await networks.delete("security_groups", id, as: who) }
            return .empty(.accepted)
        }
        r.post("/v2.1/os-security-group-rules", rule: "os_compute_api:os-security-groups:rule:create") { call in
            let who = try caller(call)
            let f = try JSONFields.body(try await call.body(), wrapper: "security_group_rule")
            let parent = try f.requiredString("parent_group_id")
            guard UUID(uuidString: parent) != nil else { throw APIError.badRequest("Invalid parent_group_id \(parent): not a security group id.") }
            var body: [String: JSON] = ["security_group_id": .string(parent), "direction": "ingress", "ethertype": "IPv4"]
            let proto = try f.string("ip_protocol", nullable: true)?.lowercased()
            if let proto {
                guard ["tcp", "udp", "icmp"].contains(proto) else { throw APIError.badRequest("Invalid IP protocol \(proto).") }
                body["protocol"] = .string(proto)
            }
            let from = try Self.port(f, "from_port", icmp: proto == "icmp"), to = try Self.port(f, "to_port", icmp: proto == "icmp")
            if proto != nil && (from == nil) != (to == nil) { throw APIError.badRequest("Invalid port range: give both from_port and to_port.") }
            if let from, let to, proto != "icmp" {
                guard from <= to else { throw APIError.badRequest("Invalid port range \(from):\(to). Former value cannot be greater than the later") }
                if from != -1 { body["port_range_min"] = JSON(from); body["port_range_max"] = JSON(to) }
            } else if let from, let to, from != -1 {
                body["port_range_min"] = JSON(from)
                if to != -1 { body["port_range_max"] = JSON(to) }
            }
            if let group = try f.string("group_id", nullable: true) { body["remote_group_id"] = .string(group) }
            else if let cidr = try f.string("cidr", nullable: true) {
                try Self.checkCIDR(cidr)
                body["remote_ip_prefix"] = .string(cidr)
                if cidr.contains(":") { body["ethertype"] = "IPv6" }
            } else { body["remote_ip_prefix"] = "0.0.0.0/0" }
            _ = try await proxied(missing: .notFound) { try await networks.show("security_groups", parent, as: who) }
            let rule = try await proxied { try await networks.create("security_group_rules", body, as: who) }
            var shown = try await ruleView(rule, who)
            // The answer echoes the CIDR as the client wrote it; Networking keeps it normalised.
            if let cidr = try f.string("cidr", nullable: true), try f.string("group_id", nullable: true) == nil {
                shown = shown.merging(["ip_range": ["cidr": .string(cidr)]])
            }
            return .json(.ok, ["security_group_rule": shown])
        }
        r.delete("/v2.1/os-security-group-rules/:id", rule: "os_compute_api:os-security-groups:rule:delete") { call in
            let who = try caller(call)
            let id = try call.param("id")
            try await proxied { try await networks.delete("security_group_rules", id, as: who) }
            return .empty(.accepted)
        }
        r.get("/v2.1/servers/:server_id/os-security-groups", rule: "os_compute_api:os-security-groups", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let who = try caller(call)
            var ids: [String] = []
            for port in try await networks.list("ports", as: NetworkCaller(isAdmin: true, projectID: ""), matching: ["device_id": server.id, "project_id": server.projectID]) {
                for id in port["security_groups"]?.array.compactMap(\.stringValue) ?? [] where !ids.contains(id) { ids.append(id) }
            }
            var groups: [JSON] = []
            for id in ids { groups.append(try await group(try await networks.show("security_groups", id, as: NetworkCaller(isAdmin: true, projectID: "")), who)) }
            if ids.isEmpty {
                // A server without ports keeps the groups it asked for by name.
                let owner = NetworkCaller(isAdmin: false, projectID: server.projectID)
                let all = try await networks.list("security_groups", as: owner, matching: [:])
                for name in server.securityGroups {
                    if let found = all.first(where: { $0["name"]?.stringValue == name || $0["id"]?.stringValue == name }) {
                        groups.append(try await group(found, who))
                    }
                }
            }
            return .json(.ok, ["security_groups": .array(groups)])
        }
        for path in ["os-networks", "os-tenant-networks"] {
            r.get("/v2.1/\(path)", rule: "os_compute_api:os-networks:view") { call in
                let who = try caller(call)
                let list = try await proxied { try await networks.list("networks", as: who, matching: [:]) }
                return .json(.ok, ["networks": .array(list.map { network($0, tenant: path == "os-tenant-networks") })])
            }
            r.get("/v2.1/\(path)/:id", rule: "os_compute_api:os-networks:view") { call in
                let who = try caller(call)
                let id = try call.param("id")
                let found = try await proxied(missing: .notFound) { try await networks.show("networks", id, as: who) }
                return .json(.ok, ["network": network(found, tenant: path == "os-tenant-networks")])
            }
        }
    }

    /// `addSecurityGroup`/`removeSecurityGroup`: the group (by name or id, in the server's project)
    /// joins or leaves every port of the server, as Nova asks Neutron.
    func setSecurityGroup(_ name: String, on server: Server, adding: Bool) async throws {
        let owner = NetworkCaller(isAdmin: false, projectID: server.projectID)
        let matches = try await networks.list("security_groups", as: owner, matching: [:])
            .filter { $0["id"]?.stringValue == name || $0["name"]?.stringValue == name }
        guard let id = matches.first?["id"]?.stringValue else {
            throw APIError.notFound("Security group \(name) not found for project \(server.projectID).")
        }
        if matches.count > 1 { throw APIError.conflict("Multiple security groups named \(name) were found: use an id.") }
        let admin = NetworkCaller(isAdmin: true, projectID: "")
        for port in try await networks.list("ports", as: admin, matching: ["device_id": server.id, "project_id": server.projectID]) {
            guard let portID = port["id"]?.stringValue else { continue }
            var groups = port["security_groups"]?.array.compactMap(\.stringValue) ?? []
            if adding, !groups.contains(id) { groups.append(id) }
            if !adding { groups.removeAll { $0 == id } }
            _ = try await networks.update("ports", portID, ["security_groups": JSON(groups)], as: admin)
        }
    }

    func caller(_ call: APICall) throws -> NetworkCaller {
        guard service.version(call) < Microversion(2, 36) else { throw APIError.notFound("The resource could not be found.") }
        return NetworkCaller(isAdmin: call.isComputeAdmin, projectID: call.auth.projectID ?? "")
    }

    /// Runs a Networking call and words its refusals as Nova's proxy did: a conflict is a bad request.
    @discardableResult
    func proxied<T>(missing: HTTPResponse.Status = .notFound, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            guard let error = (error as? APIError) ?? (error as? any APIErrorConvertible)?.apiError else { throw error }
            switch error.status {
            case .notFound: throw APIError(missing, error.message)
            case .conflict: throw APIError.badRequest(error.message)
            default: throw error
            }
        }
    }

    private func groupBody(_ json: JSON) throws -> [String: JSON] {
        let f = try JSONFields.body(json, wrapper: "security_group")
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        let description = try f.string("description", maxLength: 255) ?? ""
        if name == "default" { throw APIError.badRequest("Security group name 'default' is reserved.") }
        return ["name": .string(name), "description": .string(description)]
    }

    /// Throws unless `cidr` is an address and a prefix length that fits it (host bits may be set).
    static func checkCIDR(_ cidr: String) throws {
        let parts = cidr.split(separator: "/")
        let v6 = cidr.contains(":")
        var bytes = [UInt8](repeating: 0, count: 16)
        guard parts.count == 2, let length = Int(parts[1]), length >= 0, length <= (v6 ? 128 : 32),
              inet_pton(v6 ? AF_INET6 : AF_INET, String(parts[0]), &bytes) == 1 else {
            throw APIError.badRequest("Invalid CIDR \(cidr).")
        }
    }

    static func port(_ f: JSONFields, _ key: String, icmp: Bool) throws -> Int? {
        guard let value = f.members[key], value != .null else { return nil }
        let n: Int?
        switch value {
        case .int(let i): n = Int(exactly: i)
        case .string(let s): n = Int(s)
        default: n = nil
        }
        guard let n, n >= -1, n <= (icmp ? 255 : 65535) else { throw APIError.badRequest("Invalid \(key) value: \(value.text).") }
        return n
    }

    private func group(_ g: JSON, _ who: NetworkCaller) async throws -> JSON {
        let rules = g["security_group_rules"]?.array.filter { $0["direction"] == "ingress" } ?? []
        var shown: [JSON] = []
        for rule in rules { shown.append(try await ruleView(rule, who)) }
        return ["id": g["id"] ?? nil, "name": g["name"] ?? "", "description": g["description"] ?? "", "tenant_id": g["project_id"] ?? "",
                "rules": .array(shown)]
    }

    private func ruleView(_ r: JSON, _ who: NetworkCaller) async throws -> JSON {
        var group: JSON = [:]
        if let remote = r["remote_group_id"]?.stringValue,
           let g = try? await networks.show("security_groups", remote, as: NetworkCaller(isAdmin: true, projectID: "")) {
            group = ["name": g["name"] ?? "", "tenant_id": g["project_id"] ?? ""]
        }
        let proto = r["protocol"]?.stringValue
        var from = r["port_range_min"] ?? nil, to = r["port_range_max"] ?? nil
        if proto != nil && from == .null { from = proto == "icmp" ? -1 : 1; to = proto == "icmp" ? -1 : 65535 }
        return ["id": r["id"] ?? nil, "parent_group_id": r["security_group_id"] ?? nil, "ip_protocol": JSON(proto),
                "from_port": from, "to_port": to, "group": group,
                "ip_range": r["remote_ip_prefix"]?.stringValue.map { ["cidr": .string($0)] } ?? [:]]
    }

    private func network(_ n: JSON, tenant: Bool) -> JSON {
        if tenant { return ["id": n["id"] ?? nil, "label": n["name"] ?? "", "cidr": nil] }
        var body: [String: JSON] = ["id": n["id"] ?? nil, "label": n["name"] ?? ""]
        for key in ["bridge", "bridge_interface", "broadcast", "cidr", "cidr_v6", "created_at", "deleted_at", "dhcp_server", "dhcp_start",
                    "dns1", "dns2", "enable_dhcp", "gateway", "gateway_v6", "host", "injected", "mtu", "multi_host", "netmask",
                    "netmask_v6", "priority", "project_id", "rxtx_base", "share_address", "updated_at", "vlan", "vpn_private_address",
                    "vpn_public_address", "vpn_public_port"] { body[key] = nil as JSON }
        body["deleted"] = false
        return .object(body)
    }
}
