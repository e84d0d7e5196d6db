import Foundation
import HTTPTypes
import MartletCore

/// Admin pages. Nothing here checks roles itself: the APIs' policy decides, and a
/// member who opens one sees the service's refusal.
enum AdminView {
    static func addRoutes(_ routes: Routes) {
        routes.page("admin/hypervisors") { visit in
            let hypervisors = try await visit.get("/compute/v2.1/os-hypervisors/detail")["hypervisors"]?.array ?? []
            func use(_ used: String, _ total: String) -> (JSON) -> HTML { { "\(Components.text($0[used])) of \(Components.text($0[total]))" } }
            return visit.page("Hypervisors", Components.table(hypervisors, [
                .init("Host", key: "hypervisor_hostname"), .init("Type", key: "hypervisor_type"),
                .init("VCPUs (used)", use("vcpus_used", "vcpus")), .init("RAM MB (used)", use("memory_mb_used", "memory_mb")),
                .init("Local Storage GB (used)", use("local_gb_used", "local_gb")), .init("Instances", key: "running_vms"),
                .init("State") { Components.status($0["state"]?.stringValue) },
            ], empty: "No hypervisors.", id: "hypervisors"))
        }
        routes.page("admin/instances") { visit in
            let page = InstancesView.Page(visit.request)
            let answer = try await visit.get("/compute/v2.1/servers/detail" + page.query + "&all_tenants=1", headers: InstancesView.microversion)
            return visit.page("All Instances", InstancesView.table(visit, answer["servers"]?.array ?? [], imageNames: [:], admin: true)
                + page.links(answer["servers_links"], path: "/dashboard/admin/instances/"))
        }
        routes.page("admin/volumes") { visit in
            let volumes = try await visit.get("/volume/v3/volumes/detail?all_tenants=1")["volumes"]?.array ?? []
            return visit.page("All Volumes", Components.table(volumes, [
                .init("Project", key: "os-vol-tenant-attr:tenant_id"), .init("Name", key: "name"), .init("Size (GB)", key: "size"),
                .init("Status") { Components.status($0["status"]?.stringValue) }, .init("Host", key: "os-vol-host-attr:host"),
            ], empty: "No volumes.", id: "all-volumes"))
        }
        routes.page("admin/flavors") { visit in
            let flavors = try await visit.get("/compute/v2.1/flavors/detail?is_public=None")["flavors"]?.array ?? []
            return visit.page("Flavors", Components.table(flavors, [
                .init("Name", key: "name"), .init("VCPUs", key: "vcpus"), .init("RAM (MB)", key: "ram"), .init("Root Disk (GB)", key: "disk"),
                .init("Public", key: "os-flavor-access:is_public"),
                .init("Actions") { Components.button(visit, action: "/dashboard/admin/flavors/delete/", "Delete", confirm: "Delete this flavor?", fields: [("id", $0["id"]?.stringValue ?? "")]) },
            ], empty: "No flavors.", id: "flavors") + "<h2>Create Flavor</h2>" + Components.form(visit, action: "/dashboard/admin/flavors/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "vcpus", label: "VCPUs", kind: .number, required: true, value: "1"),
                .init(name: "ram", label: "RAM (MB)", kind: .number, required: true, value: "512"), .init(name: "disk", label: "Root Disk (GB)", kind: .number, required: true, value: "1"),
            ], submit: "Create Flavor", id: "flavor"))
        }
        routes.action("admin/flavors/create", back: { _ in "/dashboard/admin/flavors/" }) { visit, form in
            func number(_ key: String) throws -> JSON {
                guard let value = Int(form.get(key) ?? ""), value >= 0 else { throw DashboardError.badForm("\(key) is a whole number.") }
                return .int(Int64(value))
            }
            try await visit.send(.post, "/compute/v2.1/flavors", ["flavor": ["name": .string(form.get("name") ?? ""), "vcpus": try number("vcpus"),
                                                                             "ram": try number("ram"), "disk": try number("disk")]])
            return "Created flavor \(form.get("name") ?? "")."
        }
        routes.action("admin/flavors/delete", back: { _ in "/dashboard/admin/flavors/" }) { visit, form in
            try await visit.send(.delete, "/compute/v2.1/flavors/\(Components.segment(form.get("id") ?? ""))")
            return "Deleted the flavor."
        }
        addAggregates(routes)
        routes.page("admin/services") { visit in
            async let compute = visit.get("/compute/v2.1/os-services", headers: servicesMicroversion)
            async let volume = visit.get("/volume/v3/os-services")
            async let agents = visit.get("/network/v2.0/agents")
            async let zones = visit.get("/compute/v2.1/os-availability-zone/detail")
            let serviceColumns: [Components.Column] = [
                .init("Name", key: "binary"), .init("Host", key: "host"), .init("Zone", key: "zone"), .init("Status", key: "status"),
                .init("State") { Components.status($0["state"]?.stringValue) }, .init("Last Updated", key: "updated_at"),
            ]
            let computeColumns = serviceColumns + [.init("Actions") { service in
                let disabled = service["status"]?.stringValue == "disabled"
                return Components.button(visit, action: "/dashboard/admin/services/\(disabled ? "enable" : "disable")/", disabled ? "Enable" : "Disable",
                                         confirm: disabled ? nil : "Disable this compute service? No new instances will be scheduled to its host.",
                                         fields: [("id", Components.text(service["id"]))])
            }]
            return visit.page("System Services",
                "<h2>Compute Services</h2>" + Components.table(try await compute["services"]?.array ?? [], computeColumns, empty: "No compute services.", id: "compute-services")
                + "<h2>Block Storage Services</h2>" + Components.table(try await volume["services"]?.array ?? [], serviceColumns, empty: "No block storage services.", id: "volume-services")
                + "<h2>Network Agents</h2>" + Components.table(try await agents["agents"]?.array ?? [], [
                    .init("Type", key: "agent_type"), .init("Name", key: "binary"), .init("Host", key: "host"), .init("Zone", key: "availability_zone"),
                    .init("Status") { $0["admin_state_up"] == false ? "Disabled" : "Enabled" },
                    .init("State") { Components.status($0["alive"] == true ? "UP" : "DOWN") },
                ], empty: "No network agents.", id: "agents")
                + "<h2>Availability Zones</h2>" + Components.table(try await zones["availabilityZoneInfo"]?.array ?? [], [
                    .init("Name", key: "zoneName"), .init("Hosts") { "\(($0["hosts"]?.objectValue ?? [:]).keys.sorted().joined(separator: ", "))" },
                    .init("Available") { Components.status($0["zoneState"]?["available"] == true ? "UP" : "DOWN") },
                ], empty: "No availability zones.", id: "zones"))
        }
        for action in ["enable", "disable"] {
            routes.action("admin/services/\(action)", back: { _ in "/dashboard/admin/services/" }) { visit, form in
                var change: [String: JSON] = ["status": .string(action + "d")]
                if action == "disable" { change["disabled_reason"] = .string("Disabled from the dashboard by \(visit.session.userName)") }
                try await visit.send(.put, "/compute/v2.1/os-services/\(Components.segment(form.get("id") ?? ""))", .object(change), headers: servicesMicroversion)
                return action == "enable" ? "Enabled the compute service." : "Disabled the compute service."
            }
        }
        routes.page("admin/info") { visit in
            async let services = visit.get("/identity/v3/services")
            async let endpoints = visit.get("/identity/v3/endpoints")
            let names = Components.names(try await services["services"]?.array ?? [])
            return visit.page("System Information", Components.table(try await endpoints["endpoints"]?.array ?? [], [
                .init("Service") { "\(names[$0["service_id"]?.stringValue ?? ""])" }, .init("Interface", key: "interface"),
                .init("Region", key: "region_id"), .init("URL", key: "url"),
            ], empty: "No endpoints.", id: "endpoints"))
        }
    }

    /// Services by UUID, updated with `PUT /os-services/{id}` (2.53).
    static let servicesMicroversion: HTTPFields = [HTTPField.Name("OpenStack-API-Version")!: "compute 2.53"]

    /// Host aggregates: create, delete, hosts added and removed (Nova's `add_host`/`remove_host`), metadata set and unset.
    static func addAggregates(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/admin/aggregates/" }
        routes.page("admin/aggregates") { visit in
            async let aggregates = visit.get("/compute/v2.1/os-aggregates")
            async let services = visit.get("/compute/v2.1/os-services?binary=nova-compute")
            let list = try await aggregates["aggregates"]?.array ?? []
            let hosts = Set((try await services["services"]?.array ?? []).compactMap { $0["host"]?.stringValue }).sorted()
            return visit.page("Host Aggregates", Components.table(list, [
                .init("Name", key: "name"), .init("Availability Zone", key: "availability_zone"),
                .init("Hosts") { aggregate in
                    HTML.join((aggregate["hosts"]?.array ?? []).compactMap(\.stringValue).map { host in
                        let remove = Components.button(visit, action: "/dashboard/admin/aggregates/remove_host/", "Remove", confirm: "Remove \(host) from this aggregate?",
                                                       fields: [("id", Components.text(aggregate["id"])), ("host", host)])
                        return "<span class=\"member\">\(host) \(remove)</span>"
                    })
                },
                .init("Metadata") { "\(($0["metadata"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\(Components.text($0.value))" }.joined(separator: ", "))" },
                .init("Actions") { Components.button(visit, action: "/dashboard/admin/aggregates/delete/", "Delete", confirm: "Delete this aggregate?", fields: [("id", Components.text($0["id"]))]) },
            ], empty: "No host aggregates.", id: "aggregates") + "<h2>Create Host Aggregate</h2>" + Components.form(visit, action: "/dashboard/admin/aggregates/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "availability_zone", label: "Availability Zone", kind: .text),
            ], submit: "Create Host Aggregate", id: "aggregate") + "<h2>Add Host</h2>" + Components.form(visit, action: "/dashboard/admin/aggregates/add_host/", [
                .init(name: "id", label: "Aggregate", kind: .select(list.map { (value: Components.text($0["id"]), label: Components.text($0["name"])) }), required: true),
                .init(name: "host", label: "Host", kind: .select(hosts.map { (value: $0, label: $0) }), required: true),
            ], submit: "Add Host", id: "aggregate-host") + "<h2>Set Metadata</h2>" + Components.form(visit, action: "/dashboard/admin/aggregates/set_metadata/", [
                .init(name: "id", label: "Aggregate", kind: .select(list.map { (value: Components.text($0["id"]), label: Components.text($0["name"])) }), required: true),
                .init(name: "key", label: "Key", kind: .text, required: true),
                .init(name: "value", label: "Value", kind: .text, hint: "Left empty, the key is removed."),
            ], submit: "Set Metadata", id: "aggregate-metadata"))
        }
        routes.action("admin/aggregates/set_metadata", back: back) { visit, form in
            let key = form.get("key") ?? "", value = form.get("value") ?? ""
            try await visit.send(.post, "/compute/v2.1/os-aggregates/\(Components.segment(form.get("id") ?? ""))/action",
                                 ["set_metadata": ["metadata": .object([key: value.isEmpty ? .null : .string(value)])]])
            return value.isEmpty ? "Removed \(key)." : "Set \(key)=\(value)."
        }
        routes.action("admin/aggregates/create", back: back) { visit, form in
            var aggregate: [String: JSON] = ["name": .string(form.get("name") ?? "")]
            if let zone = form.get("availability_zone"), !zone.isEmpty { aggregate["availability_zone"] = .string(zone) }
            try await visit.send(.post, "/compute/v2.1/os-aggregates", ["aggregate": .object(aggregate)])
            return "Created host aggregate \(form.get("name") ?? "")."
        }
        routes.action("admin/aggregates/delete", back: back) { visit, form in
            try await visit.send(.delete, "/compute/v2.1/os-aggregates/\(Components.segment(form.get("id") ?? ""))")
            return "Deleted the host aggregate."
        }
        for action in ["add_host", "remove_host"] {
            routes.action("admin/aggregates/\(action)", back: back) { visit, form in
                try await visit.send(.post, "/compute/v2.1/os-aggregates/\(Components.segment(form.get("id") ?? ""))/action", [action: ["host": .string(form.get("host") ?? "")]])
                return action == "add_host" ? "Added host \(form.get("host") ?? "")." : "Removed host \(form.get("host") ?? "")."
            }
        }
    }
}
