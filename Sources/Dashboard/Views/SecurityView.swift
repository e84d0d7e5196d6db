import Foundation
import MartletCore

/// Security groups with their rules, and floating IPs.
enum SecurityView {
    static func addRoutes(_ routes: Routes) {
        let groupsPage: @Sendable (Visit) -> String = { _ in "/dashboard/project/security_groups/" }
        routes.page("project/security_groups") { visit in
            let groups = try await visit.get("/network/v2.0/security-groups?project_id=\(visit.projectID)")["security_groups"]?.array ?? []
            let sections = HTML.join(groups.map { group in
                let id = group["id"]?.stringValue ?? ""
                let rules = Components.table(group["security_group_rules"]?.array ?? [], [
                    .init("Direction", key: "direction"), .init("Ether Type", key: "ethertype"), .init("Protocol", key: "protocol"),
                    .init("Ports") { rule in
                        let low = Components.text(rule["port_range_min"]), high = Components.text(rule["port_range_max"])
                        return "\(low == high ? low : "\(low)-\(high)")"
                    },
                    .init("Remote") { "\($0["remote_ip_prefix"]?.stringValue ?? $0["remote_group_id"]?.stringValue ?? "any")" },
                    .init("") { rule in
                        Components.button(visit, action: "/dashboard/project/security_groups/rules/delete/", "Delete Rule", fields: [("id", rule["id"]?.stringValue ?? "")])
                    },
                ], empty: "No rules.")
                let add = Components.form(visit, action: "/dashboard/project/security_groups/rules/create/", [
                    .init(name: "group", label: "", kind: .hidden, value: id),
                    .init(name: "direction", label: "Direction", kind: .select([("ingress", "Ingress"), ("egress", "Egress")])),
                    .init(name: "protocol", label: "Protocol", kind: .select([("tcp", "TCP"), ("udp", "UDP"), ("icmp", "ICMP"), ("", "Any")])),
                    .init(name: "port", label: "Port or range (22 or 8000-8080)", kind: .text),
                    .init(name: "remote_ip_prefix", label: "Remote CIDR", kind: .text, value: "0.0.0.0/0"),
                ], submit: "Add Rule", id: "rule-\(id)")
                return "<h2>\(group["name"]?.stringValue ?? id)</h2><p>\(group["description"]?.stringValue ?? "")</p>\(rules)\(add)"
            })
            return visit.page("Security Groups", sections + "<h2>Create Security Group</h2>" + Components.form(visit, action: "/dashboard/project/security_groups/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "description", label: "Description", kind: .text),
            ], submit: "Create Security Group", id: "group"))
        }
        routes.action("project/security_groups/create", back: groupsPage) { visit, form in
            try await visit.send(.post, "/network/v2.0/security-groups", ["security_group": ["name": .string(form.get("name") ?? ""), "description": .string(form.get("description") ?? "")]])
            return "Created security group \(form.get("name") ?? "")."
        }
        routes.action("project/security_groups/rules/create", back: groupsPage) { visit, form in
            var rule: [String: JSON] = ["security_group_id": .string(form.get("group") ?? ""), "direction": .string(form.get("direction") ?? "ingress")]
            if let proto = form.get("protocol"), !proto.isEmpty { rule["protocol"] = .string(proto) }
            if let ports = form.get("port"), !ports.isEmpty {
                let bounds = ports.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !bounds.isEmpty, bounds.count <= 2, let low = bounds.first!, let high = bounds.last! else { throw DashboardError.badForm("A port is a number, or two joined by a dash.") }
                rule["port_range_min"] = .int(Int64(low)); rule["port_range_max"] = .int(Int64(high))
            }
            if let prefix = form.get("remote_ip_prefix"), !prefix.isEmpty { rule["remote_ip_prefix"] = .string(prefix) }
            try await visit.send(.post, "/network/v2.0/security-group-rules", ["security_group_rule": .object(rule)])
            return "Added the rule."
        }
        routes.action("project/security_groups/rules/delete", back: groupsPage) { visit, form in
            try await visit.send(.delete, "/network/v2.0/security-group-rules/\(Components.segment(form.get("id") ?? ""))")
            return "Deleted the rule."
        }

        let ipsPage: @Sendable (Visit) -> String = { _ in "/dashboard/project/floating_ips/" }
        routes.page("project/floating_ips") { visit in
            async let ips = visit.get("/network/v2.0/floatingips?project_id=\(visit.projectID)")
            async let networks = visit.get("/network/v2.0/networks?router:external=true")
            async let ports = visit.get("/network/v2.0/ports?project_id=\(visit.projectID)&device_owner=compute:nova")
            let portOptions = ((try? await ports)?["ports"]?.array ?? []).compactMap { port -> (value: String, label: String)? in
                guard let id = port["id"]?.stringValue else { return nil }
                return (id, (port["fixed_ips"]?.array.first?["ip_address"]?.stringValue ?? id) + " (" + (port["device_id"]?.stringValue ?? "") + ")")
            }
            let table = Components.table(try await ips["floatingips"]?.array ?? [], [
                .init("IP Address", key: "floating_ip_address"), .init("Mapped Fixed IP", key: "fixed_ip_address"),
                .init("Status") { Components.status($0["status"]?.stringValue) },
                .init("Actions") { ip in
                    let id = ip["id"]?.stringValue ?? ""
                    let associate: HTML = ip["port_id"] == .null || ip["port_id"] == nil
                        ? Components.form(visit, action: "/dashboard/project/floating_ips/associate/", [
                            .init(name: "id", label: "", kind: .hidden, value: id),
                            .init(name: "port", label: "Port", kind: .select(portOptions)),
                        ], submit: "Associate", id: "fip-\(id)")
                        : Components.button(visit, action: "/dashboard/project/floating_ips/associate/", "Disassociate", fields: [("id", id), ("port", "")])
                    return associate + Components.button(visit, action: "/dashboard/project/floating_ips/release/", "Release", confirm: "Release this address?", fields: [("id", id)])
                },
            ], empty: "No floating IPs.", id: "floating-ips")
            return visit.page("Floating IPs", table + "<h2>Allocate IP</h2>" + Components.form(visit, action: "/dashboard/project/floating_ips/allocate/", [
                .init(name: "network", label: "Pool", kind: .select(Components.options(try await networks["networks"]?.array ?? []))),
            ], submit: "Allocate IP", id: "allocate"))
        }
        routes.action("project/floating_ips/allocate", back: ipsPage) { visit, form in
            let ip = try await visit.send(.post, "/network/v2.0/floatingips", ["floatingip": ["floating_network_id": .string(form.get("network") ?? "")]])
            return "Allocated \(ip["floatingip"]?["floating_ip_address"]?.stringValue ?? "an address")."
        }
        routes.action("project/floating_ips/associate", back: ipsPage) { visit, form in
            let port = form.get("port") ?? ""
            try await visit.send(.put, "/network/v2.0/floatingips/\(Components.segment(form.get("id") ?? ""))", ["floatingip": ["port_id": port.isEmpty ? .null : .string(port)]])
            return port.isEmpty ? "Disassociated the address." : "Associated the address."
        }
        routes.action("project/floating_ips/release", back: ipsPage) { visit, form in
            try await visit.send(.delete, "/network/v2.0/floatingips/\(Components.segment(form.get("id") ?? ""))")
            return "Released the address."
        }
    }
}
