import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Instances: the list with live status, the launch form, each server's page and every action.
enum InstancesView {
    /// Servers as the compute API shows them at 2.79: the flavor embedded, with its name.
    static let microversion: HTTPFields = [HTTPField.Name("OpenStack-API-Version")!: "compute 2.79"]

    static func addRoutes(_ routes: Routes) {
        routes.page("project/instances") { visit in
            let page = Page(visit.request)
            async let servers = visit.get("/compute/v2.1/servers/detail" + page.query, headers: microversion)
            async let images = visit.get("/image/v2/images?limit=1000")
            let imageNames = Components.names(try await images["images"]?.array ?? [])
            let answer = try await servers
            let list = answer["servers"]?.array ?? []
            return visit.page("Instances", """
                <div class="actions"><a href="/dashboard/project/instances/launch/">Launch Instance</a></div>
                <div data-poll="/dashboard/project/instances/status/\(page.query)">\(table(visit, list, imageNames: imageNames, admin: false))</div>
                \(page.links(answer["servers_links"], path: "/dashboard/project/instances/"))
                """)
        }
        routes.script(.get, "project/instances/status") { visit, request in
            let servers = try await visit.get("/compute/v2.1/servers/detail" + Page(request).query)
            return .json(.ok, statuses(servers["servers"]?.array ?? []))
        }
        routes.page("project/instances/launch") { visit in try await launchPage(visit) }
        routes.action("project/instances/launch", back: { _ in "/dashboard/project/instances/" }) { visit, form in
            try await launch(visit, form)
        }
        routes.page("project/instances/:id") { visit in try await detailPage(visit) }
        routes.action("project/instances/:id/action", back: { visit in
            visit.context.parameters.get("id").map { "/dashboard/project/instances/\(Components.segment($0))/" } ?? "/dashboard/project/instances/"
        }) { visit, form in
            try await act(visit, id: visit.context.parameters.get("id") ?? "", form: form)
        }
    }

    /// A page of the list: `size` rows (100, as many as a person reads) after `marker`.
    struct Page {
        let marker: String?
        let size: Int

        init(_ request: Request) {
            marker = request.formQuery.get("marker").flatMap { $0.isEmpty ? nil : $0 }
            size = Int(request.formQuery.get("limit") ?? "").map { min(max($0, 1), 1000) } ?? 100
        }

        var query: String {
            "?limit=\(size)" + (marker.map { "&marker=" + Components.segment($0) } ?? "")
        }

        /// "First page" when this is not the first, "Next page" when the API links to one.
        func links(_ apiLinks: JSON?, path: String) -> HTML {
            var parts: [HTML] = []
            if marker != nil { parts.append(Components.link(path + "?limit=\(size)", "First page")) }
            if let next = apiLinks?.array.first(where: { $0["rel"] == "next" })?["href"]?.stringValue,
               let marker = URLComponents(string: next)?.queryItems?.first(where: { $0.name == "marker" })?.value {
                parts.append(Components.link(path + "?limit=\(size)&marker=" + Components.segment(marker), "Next page"))
            }
            return parts.isEmpty ? "" : "<nav class=\"pages\" aria-label=\"Pages\">\(HTML.join(parts, separator: " · "))</nav>"
        }
    }

    static func statuses(_ servers: [JSON]) -> JSON {
        .object(Dictionary(servers.compactMap { server -> (String, JSON)? in
            guard let id = server["id"]?.stringValue else { return nil }
            let status = server["status"]?.stringValue ?? "-"
            return (id, ["status": .string(status), "kind": .string(Components.kind(of: status)),
                         "task": .string(Components.text(server["OS-EXT-STS:task_state"])), "addresses": .string(addresses(server))])
        }, uniquingKeysWith: { a, _ in a }))
    }

    static func addresses(_ server: JSON) -> String {
        guard let networks = server["addresses"]?.objectValue else { return "-" }
        return networks.keys.sorted().map { network in
            "\(network): " + (networks[network]?.array.compactMap { $0["addr"]?.stringValue }.joined(separator: ", ") ?? "")
        }.joined(separator: "; ")
    }

    static func table(_ visit: Visit, _ servers: [JSON], imageNames: [String: String], admin: Bool) -> HTML {
        var columns: [Components.Column] = []
        if admin { columns.append(.init("Project", key: "tenant_id")) }
        columns += [
            .init("Name") { server in
                let id = server["id"]?.stringValue ?? ""
                return admin ? "\(server["name"]?.stringValue)" : Components.link("/dashboard/project/instances/\(Components.segment(id))/", server["name"]?.stringValue ?? id)
            },
            .init("Image") { server in "\(server["image"]?["id"]?.stringValue.map { imageNames[$0] ?? $0 } ?? "(volume)")" },
            .init("IP Address") { "<span data-cell=\"addresses\">\(addresses($0))</span>" },
            .init("Flavor") { "\($0["flavor"]?["original_name"]?.stringValue ?? $0["flavor"]?["id"]?.stringValue)" },
            .init("Key Pair", key: "key_name"),
            .init("Status") { Components.status($0["status"]?.stringValue) },
            .init("Task") { "<span data-cell=\"task\">\(Components.text($0["OS-EXT-STS:task_state"]))</span>" },
        ]
        if !admin {
            columns.append(.init("Actions") { server in
                let id = server["id"]?.stringValue ?? ""
                let action = "/dashboard/project/instances/\(Components.segment(id))/action/"
                return Components.button(visit, action: action, "Delete", confirm: "Delete instance \(server["name"]?.stringValue ?? id)?", fields: [("do", "delete")])
                    + Components.button(visit, action: action, "Reboot", fields: [("do", "reboot")])
            })
        }
        return Components.table(servers, columns, empty: "No instances yet.", id: "instances", live: true)
    }

    static func launchPage(_ visit: Visit) async throws -> Response {
        async let images = visit.get("/image/v2/images?limit=1000&status=active")
        async let flavors = visit.get("/compute/v2.1/flavors/detail")
        async let networks = visit.get("/network/v2.0/networks")
        async let groups = visit.get("/network/v2.0/security-groups?project_id=\(visit.projectID)")
        async let keys = visit.get("/compute/v2.1/os-keypairs")
        async let volumes = visit.get("/volume/v3/volumes/detail?status=available")
        async let snapshots = visit.get("/volume/v3/snapshots/detail?status=available")
        var sources: [(value: String, label: String)] = []
        sources += (try await images)["images"]?.array.map { ("image:" + ($0["id"]?.stringValue ?? ""), "Image: " + ($0["name"]?.stringValue ?? "")) } ?? []
        sources += ((try? await volumes)?["volumes"]?.array ?? []).filter { $0["bootable"] == "true" }.map {
            ("volume:" + ($0["id"]?.stringValue ?? ""), "Volume: " + ($0["name"]?.stringValue ?? $0["id"]?.stringValue ?? ""))
        }
        sources += ((try? await snapshots)?["snapshots"]?.array ?? []).map { snapshot in
            ("snapshot:" + (snapshot["id"]?.stringValue ?? "") + ":" + Components.text(snapshot["size"]),
             "Volume snapshot: " + (snapshot["name"]?.stringValue ?? snapshot["id"]?.stringValue ?? ""))
        }
        let flavorOptions = Components.options(try await flavors["flavors"]?.array ?? []) { flavor in
            "\(flavor["name"]?.stringValue ?? "") (\(Components.text(flavor["vcpus"])) VCPU, \(Components.text(flavor["ram"])) MB RAM, \(Components.text(flavor["disk"])) GB disk)"
        }
        let networkOptions = Components.options(try await networks["networks"]?.array.filter { $0["router:external"] != .bool(true) } ?? [])
        let groupOptions = (try await groups)["security_groups"]?.array.compactMap { group in group["name"]?.stringValue.map { ($0, $0) } } ?? []
        let keyOptions = [("", "(none)")] + ((try await keys)["keypairs"]?.array.compactMap { $0["keypair"]?["name"]?.stringValue.map { ($0, $0) } } ?? [])
        let form = Components.form(visit, action: "/dashboard/project/instances/launch/", [
            .init(name: "name", label: "Instance Name", kind: .text, required: true),
            .init(name: "source", label: "Source", kind: .select(sources), required: true),
            .init(name: "flavor", label: "Flavor", kind: .select(flavorOptions), required: true),
            .init(name: "network", label: "Networks", kind: .multiple(networkOptions), hint: "Hold Ctrl to choose more than one."),
            .init(name: "security_group", label: "Security Groups", kind: .multiple(groupOptions), value: "default"),
            .init(name: "key_name", label: "Key Pair", kind: .select(keyOptions)),
            .init(name: "user_data", label: "Customization Script (user data)", kind: .textarea),
            .init(name: "count", label: "Count", kind: .number, required: true, value: "1"),
        ], submit: "Launch", id: "launch")
        return visit.page("Launch Instance", form)
    }

    static func launch(_ visit: Visit, _ form: FormQuery) async throws -> String {
        let name = form.get("name") ?? ""
        guard !name.isEmpty else { throw DashboardError.badForm("Give the instance a name.") }
        guard let count = Int(form.get("count") ?? "1"), (1...100).contains(count) else { throw DashboardError.badForm("Count must be between 1 and 100.") }
        var server: [String: JSON] = ["name": .string(name), "flavorRef": .string(form.get("flavor") ?? ""),
                                      "min_count": .int(Int64(count)), "max_count": .int(Int64(count))]
        let source = (form.get("source") ?? "").split(separator: ":").map(String.init)
        switch source.first {
        case "image" where source.count == 2: server["imageRef"] = .string(source[1])
        case "volume" where source.count == 2:
            server["block_device_mapping_v2"] = [["boot_index": 0, "uuid": .string(source[1]), "source_type": "volume", "destination_type": "volume"]]
        case "snapshot" where source.count == 3:
            server["block_device_mapping_v2"] = [["boot_index": 0, "uuid": .string(source[1]), "source_type": "snapshot", "destination_type": "volume",
                                                  "volume_size": .int(Int64(source[2]) ?? 1), "delete_on_termination": true]]
        default: throw DashboardError.badForm("Choose what the instance boots from.")
        }
        let networks = form.getAll("network").filter { !$0.isEmpty }
        if !networks.isEmpty { server["networks"] = .array(networks.map { ["uuid": .string($0)] }) }
        let groups = form.getAll("security_group").filter { !$0.isEmpty }
        if !groups.isEmpty { server["security_groups"] = .array(groups.map { ["name": .string($0)] }) }
        if let key = form.get("key_name"), !key.isEmpty { server["key_name"] = .string(key) }
        if let data = form.get("user_data"), !data.isEmpty { server["user_data"] = .string(Data(data.utf8).base64EncodedString()) }
        try await visit.send(.post, "/compute/v2.1/servers", ["server": .object(server)])
        return count == 1 ? "Launched instance \(name)." : "Launched \(count) instances named \(name)."
    }

    /// Each action the page offers, as the compute API's action body.
    static let actions: [(name: String, label: String, body: JSON?)] = [
        ("stop", "Shut Off", ["os-stop": nil]), ("start", "Start", ["os-start": nil]),
        ("reboot", "Soft Reboot", ["reboot": ["type": "SOFT"]]), ("hard_reboot", "Hard Reboot", ["reboot": ["type": "HARD"]]),
        ("pause", "Pause", ["pause": nil]), ("unpause", "Resume from Pause", ["unpause": nil]),
        ("suspend", "Suspend", ["suspend": nil]), ("resume", "Resume", ["resume": nil]),
        ("shelve", "Shelve", ["shelve": nil]), ("unshelve", "Unshelve", ["unshelve": nil]),
        ("lock", "Lock", ["lock": nil]), ("unlock", "Unlock", ["unlock": nil]),
        ("rescue", "Rescue", ["rescue": [:]]), ("unrescue", "Unrescue", ["unrescue": nil]),
        ("confirm_resize", "Confirm Resize", ["confirmResize": nil]), ("revert_resize", "Revert Resize", ["revertResize": nil]),
        ("delete", "Delete", nil),
    ]

    static func act(_ visit: Visit, id: String, form: FormQuery) async throws -> String {
        let path = "/compute/v2.1/servers/\(Components.segment(id))"
        switch form.get("do") ?? "" {
        case "delete":
            try await visit.send(.delete, path)
            return "Deleting the instance."
        case "snapshot":
            let name = form.get("name").flatMap { $0.isEmpty ? nil : $0 } ?? "snapshot"
            try await visit.send(.post, path + "/action", ["createImage": ["name": .string(name)]])
            return "Creating image \(name) from the instance."
        case "rename":
            let name = form.get("name") ?? ""
            guard !name.isEmpty else { throw DashboardError.badForm("Give the instance a name.") }
            try await visit.send(.put, path, ["server": ["name": .string(name)]])
            return "Renamed the instance to \(name)."
        case "resize":
            try await visit.send(.post, path + "/action", ["resize": ["flavorRef": .string(form.get("flavor") ?? "")]])
            return "Resizing the instance: confirm or revert once it is VERIFY_RESIZE."
        case "rebuild":
            try await visit.send(.post, path + "/action", ["rebuild": ["imageRef": .string(form.get("image") ?? "")]])
            return "Rebuilding the instance."
        case "attach_interface":
            try await visit.send(.post, path + "/os-interface", ["interfaceAttachment": ["net_id": .string(form.get("network") ?? "")]])
            return "Attaching an interface."
        case let name:
            guard let action = actions.first(where: { $0.name == name }), let body = action.body else {
                throw DashboardError.badForm("Unknown action.")
            }
            try await visit.send(.post, path + "/action", body)
            return "\(action.label): requested."
        }
    }

    /// Nova's power state numbers, by name.
    static let powerStates = [0: "NOSTATE", 1: "RUNNING", 3: "PAUSED", 4: "SHUTDOWN", 6: "CRASHED", 7: "SUSPENDED"]

    static func detailPage(_ visit: Visit) async throws -> Response {
        let id = visit.context.parameters.get("id") ?? ""
        let path = "/compute/v2.1/servers/\(Components.segment(id))"
        let server = try await visit.get(path, headers: microversion)["server"] ?? [:]
        async let log = visit.send(.post, path + "/action", ["os-getConsoleOutput": ["length": 60]])
        async let history = visit.get(path + "/os-instance-actions")
        async let networks = visit.get("/network/v2.0/networks")
        async let flavors = visit.get("/compute/v2.1/flavors")
        async let images = visit.get("/image/v2/images?limit=1000&status=active")
        let console = try? await visit.send(.post, path + "/remote-consoles", ["remote_console": ["protocol": "vnc", "type": "novnc"]],
                                            headers: [HTTPField.Name("OpenStack-API-Version")!: "compute 2.6"])
        let actionPath = "/dashboard/project/instances/\(Components.segment(id))/action/"
        let buttons = HTML.join(actions.map { action in
            Components.button(visit, action: actionPath, action.label, confirm: action.name == "delete" ? "Delete this instance?" : nil, fields: [("do", action.name)])
        })
        let consoleLink: HTML = console?["remote_console"]?["url"]?.stringValue.map {
            "<p><a href=\"\($0)\" target=\"_blank\" rel=\"noopener\">Open the console (noVNC)</a></p>"
        } ?? "<p class=\"empty\">No graphical console: this cloud's hypervisor does not serve one.</p>"
        let facts: [(String, String)] = [
            ("Name", Components.text(server["name"])), ("ID", id), ("Status", Components.text(server["status"])),
            ("Power state", powerStates[Int(Components.text(server["OS-EXT-STS:power_state"])) ?? 0] ?? "NOSTATE"), ("Task", Components.text(server["OS-EXT-STS:task_state"])),
            ("Flavor", Components.text(server["flavor"]?["original_name"])), ("Key pair", Components.text(server["key_name"])),
            ("Addresses", addresses(server)), ("Created", Components.text(server["created"])),
            ("Security groups", server["security_groups"]?.array.compactMap { $0["name"]?.stringValue }.joined(separator: ", ") ?? "-"),
        ]
        let events = Components.table((try? await history)?["instanceActions"]?.array ?? [], [
            .init("Action", key: "action"), .init("Request ID", key: "request_id"), .init("Started", key: "start_time"), .init("Message", key: "message"),
        ], empty: "No actions recorded.")
        let networkOptions = Components.options((try? await networks)?["networks"]?.array ?? [])
        func actionForm(_ action: String, _ fields: [Components.Field], submit: String) -> HTML {
            Components.form(visit, action: actionPath, [.init(name: "do", label: "", kind: .hidden, value: action)] + fields, submit: submit, id: action)
        }
        let forms = [
            actionForm("rename", [.init(name: "name", label: "New Name", kind: .text, required: true, value: server["name"]?.stringValue ?? "")], submit: "Rename"),
            actionForm("snapshot", [.init(name: "name", label: "Snapshot Name", kind: .text)], submit: "Create Snapshot"),
            actionForm("attach_interface", [.init(name: "network", label: "Network", kind: .select(networkOptions))], submit: "Attach Interface"),
            actionForm("resize", [.init(name: "flavor", label: "New Flavor", kind: .select(Components.options((try? await flavors)?["flavors"]?.array ?? [])))],
                       submit: "Resize"),
            actionForm("rebuild", [.init(name: "image", label: "Image", kind: .select(Components.options((try? await images)?["images"]?.array ?? [])))],
                       submit: "Rebuild"),
        ]
        return visit.page("Instance \(server["name"]?.stringValue ?? id)", """
            <dl class="facts">\(HTML.join(facts.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }))</dl>
            <h2>Actions</h2><div class="actions">\(buttons)</div>
            <div class="forms">\(HTML.join(forms))</div>
            <h2>Console</h2>\(consoleLink)
            <h2>Log</h2><pre class="log">\((try? await log)?["output"]?.stringValue ?? "(no console output)")</pre>
            <h2>Action Log</h2>\(events)
            """)
    }
}
