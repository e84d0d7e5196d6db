import Foundation
import HTTPTypes
import MartletCore

/// Admin and identity pages. Nothing here checks roles itself: the APIs' policy decides, and a
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
        routes.page("identity/projects") { visit in
            let projects = try await visit.get("/identity/v3/projects")["projects"]?.array ?? []
            return visit.page("Projects", Components.table(projects, [
                .init("Name", key: "name"), .init("ID", key: "id"), .init("Domain", key: "domain_id"), .init("Enabled", key: "enabled"),
                .init("Description", key: "description"),
            ], empty: "No projects.", id: "projects") + "<h2>Create Project</h2>" + Components.form(visit, action: "/dashboard/identity/projects/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "description", label: "Description", kind: .text),
            ], submit: "Create Project", id: "project"))
        }
        routes.action("identity/projects/create", back: { _ in "/dashboard/identity/projects/" }) { visit, form in
            try await visit.send(.post, "/identity/v3/projects", ["project": ["name": .string(form.get("name") ?? ""), "description": .string(form.get("description") ?? "")]])
            return "Created project \(form.get("name") ?? "")."
        }
        routes.page("identity/users") { visit in
            let users = try await visit.get("/identity/v3/users")["users"]?.array ?? []
            return visit.page("Users", Components.table(users, [
                .init("Name", key: "name"), .init("ID", key: "id"), .init("Domain", key: "domain_id"), .init("Enabled", key: "enabled"),
                .init("Default Project", key: "default_project_id"),
            ], empty: "No users.", id: "users"))
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
}
