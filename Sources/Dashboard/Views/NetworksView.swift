import Foundation
import MartletCore

/// Networks with their subnets and ports: list, create (with a first subnet), delete.
enum NetworksView {
    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/project/networks/" }
        routes.page("project/networks") { visit in
            async let networks = visit.get("/network/v2.0/networks")
            async let subnets = visit.get("/network/v2.0/subnets")
            let cidrs = Dictionary(grouping: try await subnets["subnets"]?.array ?? [], by: { $0["network_id"]?.stringValue ?? "" })
            let table = Components.table(try await networks["networks"]?.array ?? [], [
                .init("Name") { network in
                    Components.link("/dashboard/project/networks/\(Components.segment(network["id"]?.stringValue ?? ""))/", network["name"]?.stringValue ?? "")
                },
                .init("Subnets") { network in
                    "\((cidrs[network["id"]?.stringValue ?? ""] ?? []).map { "\(Components.text($0["name"])) \(Components.text($0["cidr"]))" }.joined(separator: ", "))"
                },
                .init("Shared", key: "shared"), .init("External", key: "router:external"),
                .init("Status") { Components.status($0["status"]?.stringValue) },
                .init("Actions") { network in
                    network["tenant_id"]?.stringValue == visit.projectID
                        ? Components.button(visit, action: "/dashboard/project/networks/delete/", "Delete", confirm: "Delete this network?",
                                            fields: [("id", network["id"]?.stringValue ?? "")]) : ""
                },
            ], empty: "No networks.", id: "networks")
            return visit.page("Networks", table + "<h2>Create Network</h2>" + Components.form(visit, action: "/dashboard/project/networks/create/", [
                .init(name: "name", label: "Network Name", kind: .text, required: true),
                .init(name: "subnet_name", label: "Subnet Name", kind: .text),
                .init(name: "cidr", label: "Network Address (CIDR)", kind: .text, hint: "For example 192.168.0.0/24; leave empty for a network without a subnet."),
                .init(name: "gateway_ip", label: "Gateway IP", kind: .text, hint: "Empty: the first address of the range."),
                .init(name: "enable_dhcp", label: "Enable DHCP", kind: .checkbox, value: "1"),
            ], submit: "Create Network", id: "network"))
        }
        routes.action("project/networks/create", back: back) { visit, form in
            let name = form.get("name") ?? ""
            let created = try await visit.send(.post, "/network/v2.0/networks", ["network": ["name": .string(name), "admin_state_up": true]])
            guard let cidr = form.get("cidr"), !cidr.isEmpty, let id = created["network"]?["id"]?.stringValue else { return "Created network \(name)." }
            var subnet: [String: JSON] = ["network_id": .string(id), "cidr": .string(cidr), "name": .string(form.get("subnet_name") ?? ""),
                                          "ip_version": .int(cidr.contains(":") ? 6 : 4), "enable_dhcp": .bool(form.get("enable_dhcp") == "1")]
            if let gateway = form.get("gateway_ip"), !gateway.isEmpty { subnet["gateway_ip"] = .string(gateway) }
            do {
                try await visit.send(.post, "/network/v2.0/subnets", ["subnet": .object(subnet)])
            } catch DashboardError.api(let status, let message) {
                // Nothing half made: the network goes again when its subnet is refused.
                _ = try? await visit.send(.delete, "/network/v2.0/networks/\(id)")
                throw DashboardError.api(status: status, message: message)
            }
            return "Created network \(name) with subnet \(cidr)."
        }
        routes.action("project/networks/delete", back: back) { visit, form in
            try await visit.send(.delete, "/network/v2.0/networks/\(Components.segment(form.get("id") ?? ""))")
            return "Deleted the network."
        }
        routes.page("project/networks/:id") { visit in
            let id = Components.segment(visit.context.parameters.get("id") ?? "")
            async let network = visit.get("/network/v2.0/networks/\(id)")
            async let subnets = visit.get("/network/v2.0/subnets?network_id=\(id)")
            async let ports = visit.get("/network/v2.0/ports?network_id=\(id)")
            let n = try await network["network"] ?? [:]
            let facts: [(String, String)] = [("ID", Components.text(n["id"])), ("Status", Components.text(n["status"])), ("MTU", Components.text(n["mtu"])),
                                             ("Type", Components.text(n["provider:network_type"])), ("Shared", Components.text(n["shared"]))]
            return visit.page("Network \(n["name"]?.stringValue ?? id)", """
                <dl class="facts">\(HTML.join(facts.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }))</dl>
                <h2>Subnets</h2>\(Components.table(try await subnets["subnets"]?.array ?? [], [
                    .init("Name", key: "name"), .init("CIDR", key: "cidr"), .init("IP Version", key: "ip_version"), .init("Gateway", key: "gateway_ip"),
                    .init("DHCP", key: "enable_dhcp"),
                ], empty: "No subnets."))
                <h2>Ports</h2>\(Components.table(try await ports["ports"]?.array ?? [], [
                    .init("ID", key: "id"), .init("Fixed IPs") { "\($0["fixed_ips"]?.array.compactMap { $0["ip_address"]?.stringValue }.joined(separator: ", "))" },
                    .init("MAC", key: "mac_address"), .init("Attached Device", key: "device_owner"), .init("Status") { Components.status($0["status"]?.stringValue) },
                ], empty: "No ports."))
                """)
        }
    }
}
