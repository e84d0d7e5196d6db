import Foundation
import MartletCore

/// The project's network topology as SVG: networks are horizontal lines, routers and servers
/// boxes above them, each joined to the networks it has a port on. Everything is a link.
enum TopologyView {
    struct Device {
        let id: String
        let name: String
        let kind: String   // "router" or "server"
        let networks: Set<String>
        let href: String
    }

    static func addRoutes(_ routes: Routes) {
        routes.page("project/network_topology") { visit in
            // The project's own, as Horizon draws it: an admin sees every project's routers and ports.
            let project = Components.segment(visit.projectID)
            async let networks = visit.get("/network/v2.0/networks")
            async let routers = visit.get("/network/v2.0/routers?project_id=\(project)")
            async let ports = visit.get("/network/v2.0/ports?project_id=\(project)&fields=network_id&fields=device_id")
            async let servers = visit.get("/compute/v2.1/servers")
            let byDevice = Dictionary(grouping: try await ports["ports"]?.array ?? [], by: { $0["device_id"]?.stringValue ?? "" })
            func attached(_ id: String) -> Set<String> { Set((byDevice[id] ?? []).compactMap { $0["network_id"]?.stringValue }) }
            var devices: [Device] = (try await routers["routers"]?.array ?? []).compactMap { router in
                guard let id = router["id"]?.stringValue else { return nil }
                var nets = attached(id)
                if let gateway = router["external_gateway_info"]?["network_id"]?.stringValue { nets.insert(gateway) }
                return Device(id: id, name: router["name"]?.stringValue ?? id, kind: "router", networks: nets, href: "/dashboard/project/routers/")
            }
            devices += (try await servers["servers"]?.array ?? []).compactMap { server in
                guard let id = server["id"]?.stringValue else { return nil }
                return Device(id: id, name: server["name"]?.stringValue ?? id, kind: "server", networks: attached(id),
                              href: "/dashboard/project/instances/\(Components.segment(id))/")
            }
            let visible = (try await networks["networks"]?.array ?? []).filter {
                $0["project_id"]?.stringValue == visit.projectID || $0["shared"] == .bool(true) || $0["router:external"] == .bool(true)
            }
            let picture = draw(networks: visible, devices: devices)
            return visit.page("Network Topology", """
                <p><a href="/dashboard/project/networks/">Create a network</a> · <a href="/dashboard/project/routers/">Create a router</a> ·
                <a href="/dashboard/project/instances/launch/">Launch an instance</a></p>
                <div class="topology">\(picture)</div>
                """)
        }
    }

    static let palette = ["#1f6feb", "#1a7f37", "#8250df", "#bf3989", "#d29922", "#0a7ea4", "#cf222e", "#57606a"]

    static func draw(networks: [JSON], devices: [Device]) -> HTML {
        let shown = networks.filter { network in devices.contains { $0.networks.contains(network["id"]?.stringValue ?? "") } || network["router:external"] != .bool(true) }
        let left = 170, top = 110, rowGap = 46, column = 78
        let width = max(left + devices.count * column + 20, 600)
        let height = top + max(shown.count, 1) * rowGap + 10
        var row: [String: Int] = [:]
        var parts: [HTML] = []
        for (index, network) in shown.enumerated() {
            let id = network["id"]?.stringValue ?? ""
            row[id] = index
            let y = top + index * rowGap + 20
            let colour = palette[index % palette.count]
            let cidrs = network["subnets"]?.array.count ?? 0
            parts.append("""
                <a href="/dashboard/project/networks/\(Components.segment(id))/" class="network"><title>network \(network["name"]?.stringValue ?? id)</title>
                <line x1="10" y1="\(y)" x2="\(width - 10)" y2="\(y)" stroke="\(HTML(raw: colour))" stroke-width="6" stroke-linecap="round"/>
                <text x="12" y="\(y - 8)" font-size="13" fill="#1d2430">\(network["name"]?.stringValue ?? id)\(HTML(raw: network["router:external"] == .bool(true) ? " (external)" : "")) · \(cidrs) subnet\(HTML(raw: cidrs == 1 ? "" : "s"))</text></a>
                """)
        }
        for (index, device) in devices.enumerated() {
            let x = left + index * column
            let rows = device.networks.compactMap { row[$0] }
            for r in rows {
                let y = top + r * rowGap + 20
                parts.append("<line x1=\"\(x + 30)\" y1=\"70\" x2=\"\(x + 30)\" y2=\"\(y)\" stroke=\"#8c959f\" stroke-width=\"2\"/><circle cx=\"\(x + 30)\" cy=\"\(y)\" r=\"5\" fill=\"#1d2430\"/>")
            }
            let fill = device.kind == "router" ? "#fff4d6" : "#e7eefb"
            let label = device.name.count > 9 ? String(device.name.prefix(8)) + "…" : device.name
            parts.append("""
                <a href="\(device.href)" class="\(device.kind)"><title>\(device.kind) \(device.name)</title>
                <rect x="\(x)" y="20" width="60" height="50" rx="6" fill="\(HTML(raw: fill))" stroke="#57606a"/>
                <text x="\(x + 30)" y="41" text-anchor="middle" font-size="10" fill="#57606a">\(device.kind)</text>
                <text x="\(x + 30)" y="58" text-anchor="middle" font-size="11" fill="#1d2430">\(label)</text></a>
                """)
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" width="\(width)" height="\(height)" role="img"
             aria-label="\(shown.count) networks, \(devices.count) routers and servers" id="topology">\(parts)</svg>
            """
    }
}
