import Foundation
import MartletCore

/// Routers: create with an external gateway, add and remove interfaces, delete.
enum RoutersView {
    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/project/routers/" }
        routes.page("project/routers") { visit in
            async let routers = visit.get("/network/v2.0/routers")
            async let networks = visit.get("/network/v2.0/networks")
            async let subnets = visit.get("/network/v2.0/subnets")
            let allNetworks = try await networks["networks"]?.array ?? []
            let names = Components.names(allNetworks)
            let external = Components.options(allNetworks.filter { $0["router:external"] == .bool(true) }, none: "(no gateway)")
            let ownSubnets = Components.options((try await subnets["subnets"]?.array ?? []).filter { $0["tenant_id"]?.stringValue == visit.projectID }) {
                "\($0["name"]?.stringValue ?? "") \($0["cidr"]?.stringValue ?? "")"
            }
            let table = Components.table(try await routers["routers"]?.array ?? [], [
                .init("Name", key: "name"), .init("Status") { Components.status($0["status"]?.stringValue) },
                .init("External Network") { "\($0["external_gateway_info"]?["network_id"]?.stringValue.map { names[$0] ?? $0 })" },
                .init("Actions") { router in
                    let id = router["id"]?.stringValue ?? ""
                    return Components.form(visit, action: "/dashboard/project/routers/interface/", [
                        .init(name: "router", label: "", kind: .hidden, value: id),
                        .init(name: "subnet", label: "Add Interface", kind: .select(ownSubnets)),
                    ], submit: "Add Interface", id: "if-\(id)")
                        + Components.button(visit, action: "/dashboard/project/routers/delete/", "Delete Router", confirm: "Delete this router?", fields: [("id", id)])
                },
            ], empty: "No routers.", id: "routers")
            return visit.page("Routers", table + "<h2>Create Router</h2>" + Components.form(visit, action: "/dashboard/project/routers/create/", [
                .init(name: "name", label: "Router Name", kind: .text, required: true),
                .init(name: "external_network", label: "External Network", kind: .select(external)),
            ], submit: "Create Router", id: "router"))
        }
        routes.action("project/routers/create", back: back) { visit, form in
            var router: [String: JSON] = ["name": .string(form.get("name") ?? ""), "admin_state_up": true]
            if let external = form.get("external_network"), !external.isEmpty { router["external_gateway_info"] = ["network_id": .string(external)] }
            try await visit.send(.post, "/network/v2.0/routers", ["router": .object(router)])
            return "Created router \(form.get("name") ?? "")."
        }
        routes.action("project/routers/interface", back: back) { visit, form in
            try await visit.send(.put, "/network/v2.0/routers/\(Components.segment(form.get("router") ?? ""))/add_router_interface",
                                 ["subnet_id": .string(form.get("subnet") ?? "")])
            return "Added the interface."
        }
        routes.action("project/routers/delete", back: back) { visit, form in
            let id = Components.segment(form.get("id") ?? "")
            // A router with interfaces cannot go: take them off first, as Horizon does.
            let ports = try await visit.get("/network/v2.0/ports?device_id=\(id)&device_owner=network:router_interface")
            for port in ports["ports"]?.array ?? [] {
                if let portID = port["id"]?.stringValue {
                    try await visit.send(.put, "/network/v2.0/routers/\(id)/remove_router_interface", ["port_id": .string(portID)])
                }
            }
            try await visit.send(.delete, "/network/v2.0/routers/\(id)")
            return "Deleted the router."
        }
    }
}
