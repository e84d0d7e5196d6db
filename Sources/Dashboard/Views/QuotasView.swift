import Foundation
import HTTPTypes
import MartletCore

/// A project's quotas in Compute, Block Storage and Networking, on one form (Horizon's "Modify
/// Quotas"); each service's own quota API keeps them and checks them.
enum QuotasView {
    /// One service's quota API and the limits it keeps, as (field, label).
    struct Service: Sendable {
        let name: String
        let title: String
        let path: @Sendable (String) -> String
        /// The member of the answer and of the update's body.
        let key: String
        let limits: [(field: String, label: String)]
    }

    static let services: [Service] = [
        Service(name: "compute", title: "Compute", path: { "/compute/v2.1/os-quota-sets/\($0)" }, key: "quota_set", limits: [
            ("instances", "Instances"), ("cores", "VCPUs"), ("ram", "RAM (MB)"), ("key_pairs", "Key Pairs"),
            ("server_groups", "Server Groups"), ("server_group_members", "Server Group Members"), ("metadata_items", "Metadata Items"),
        ]),
        Service(name: "volume", title: "Block Storage", path: { "/volume/v3/os-quota-sets/\($0)" }, key: "quota_set", limits: [
            ("volumes", "Volumes"), ("gigabytes", "Total Size of Volumes and Snapshots (GB)"), ("snapshots", "Volume Snapshots"),
            ("backups", "Backups"), ("backup_gigabytes", "Total Size of Backups (GB)"),
        ]),
        Service(name: "network", title: "Networking", path: { "/network/v2.0/quotas/\($0)" }, key: "quota", limits: [
            ("network", "Networks"), ("subnet", "Subnets"), ("port", "Ports"), ("router", "Routers"), ("floatingip", "Floating IPs"),
            ("security_group", "Security Groups"), ("security_group_rule", "Security Group Rules"),
        ]),
    ]

    static func addRoutes(_ routes: Routes) {
        routes.page("admin/quotas") { visit in
            let projects = try await visit.get("/identity/v3/projects")["projects"]?.array ?? []
            let asked = FormQuery(visit.request.uri.query).get("project") ?? ""
            let project = projects.first { $0["id"]?.stringValue == asked } ?? projects.first { $0["id"]?.stringValue == visit.projectID } ?? projects.first
            let projectID = project?["id"]?.stringValue ?? ""
            let choose: HTML = """
                <form class="panel" method="get" action="/dashboard/admin/quotas/" id="quota-project"><div class="field"><label for="f-quota-project">Project</label>\
                <select id="f-quota-project" name="project">\(HTML.join(projects.map { p in
                    "<option value=\"\(p["id"]?.stringValue)\"\(HTML(raw: p["id"]?.stringValue == projectID ? " selected" : ""))>\(p["name"]?.stringValue)</option>"
                }))</select></div><button type="submit">Show</button></form>
                """
            guard !projectID.isEmpty else { return visit.page("Quotas", choose) }
            var fields: [Components.Field] = [.init(name: "project", label: "", kind: .hidden, value: projectID)]
            for service in services {
                let current = try await visit.get(service.path(Components.segment(projectID)))[service.key]
                fields += service.limits.map { limit in
                    .init(name: "\(service.name).\(limit.field)", label: "\(service.title): \(limit.label)", kind: .text, required: true,
                          value: Components.text(current?[limit.field]), hint: "-1 for no limit")
                }
            }
            return visit.page("Quotas", choose + "<h2>Quotas of \(project?["name"]?.stringValue ?? projectID)</h2>"
                              + Components.form(visit, action: "/dashboard/admin/quotas/update/?project=\(Components.segment(projectID))", fields, submit: "Save Quotas", id: "quotas"))
        }
        routes.action("admin/quotas/update", back: { visit in "/dashboard/admin/quotas/?project=" + Components.segment(FormQuery(visit.request.uri.query).get("project") ?? "") }) { visit, form in
            let project = Components.segment(form.get("project") ?? "")
            // Every value is checked before any service is changed.
            let updates = try services.map { service in
                (service, try service.limits.reduce(into: [String: JSON]()) { body, limit in
                    let text = (form.get("\(service.name).\(limit.field)") ?? "").trimmingCharacters(in: .whitespaces)
                    guard let value = Int64(text), value >= -1 else { throw DashboardError.badForm("\(service.title): \(limit.label) is a whole number, or -1 for no limit.") }
                    body[limit.field] = .int(value)
                })
            }
            for (service, limits) in updates { try await visit.send(.put, service.path(project), [service.key: .object(limits)]) }
            return "Saved the quotas."
        }
    }
}
