import Foundation
import HTTPTypes
import MartletCore

/// Identity administration: domains, projects, users, groups, roles and who has which role where. As with
/// the admin pages, Identity's policy decides what a user may see and do here.
enum IdentityAdminView {
    static func addRoutes(_ routes: Routes) {
        // Identity refuses to delete an enabled domain, and the page says so.
        addNamedAndDescribed(routes, "domains", member: "domain", title: "Domains", columns: [])
        addNamedAndDescribed(routes, "projects", member: "project", title: "Projects", columns: [("Domain", "domain_id")])
        addUsers(routes)
        addGroups(routes)
        addRoles(routes)
        addAssignments(routes)
    }

    static func deleteButton(_ visit: Visit, _ path: String, _ what: String, id: JSON?) -> HTML {
        Components.button(visit, action: "/dashboard/identity/\(path)/delete/", "Delete", confirm: "Delete this \(what)?", fields: [("id", id?.stringValue ?? "")])
    }

    /// Creates one of `/identity/v3/<path>` from a form whose `fields` are the new `member`'s attributes.
    static func addCreate(_ routes: Routes, _ path: String, member: String, fields: [String]) {
        routes.action("identity/\(path)/create", back: { _ in "/dashboard/identity/\(path)/" }) { visit, form in
            let attributes = Dictionary(uniqueKeysWithValues: fields.map { ($0, JSON.string(form.get($0) ?? "")) })
            try await visit.send(.post, "/identity/v3/\(path)", [member: .object(attributes)])
            return "Created \(member) \(form.get("name") ?? "")."
        }
    }

    /// Deletes one of `/identity/v3/<path>` from a row's button.
    static func addDelete(_ routes: Routes, _ path: String, member: String) {
        routes.action("identity/\(path)/delete", back: { _ in "/dashboard/identity/\(path)/" }) { visit, form in
            try await visit.send(.delete, "/identity/v3/\(path)/\(Components.segment(form.get("id") ?? ""))")
            return "Deleted the \(member)."
        }
    }

    /// The name column: a link to the row's edit page.
    static func editLink(_ path: String, _ row: JSON) -> HTML {
        let id = row["id"]?.stringValue ?? ""
        return Components.link("/dashboard/identity/\(path)/\(Components.segment(id))/", row["name"]?.stringValue ?? id)
    }

    /// Each `/identity/v3/<path>/<id>` gets an edit page: its `texts` and `enabled` in a form, and,
    /// with `password`, a new password (left empty, the old one stays). Saving is one PATCH.
    static func addEdit(_ routes: Routes, _ path: String, member: String, texts: [(name: String, label: String)], password: Bool = false) {
        routes.page("identity/\(path)/:id") { visit in
            let id = visit.context.parameters.get("id") ?? ""
            let item = try await visit.get("/identity/v3/\(path)/\(Components.segment(id))")[member] ?? [:]
            var fields: [Components.Field] = texts.map { .init(name: $0.name, label: $0.label, kind: .text, required: $0.name == "name", value: item[$0.name]?.stringValue ?? "") }
            fields.append(.init(name: "enabled", label: "Enabled", kind: .checkbox, value: item["enabled"] == .bool(false) ? "" : "1"))
            if password { fields.append(.init(name: "password", label: "New Password", kind: .password, hint: "Left empty, the password stays as it is.")) }
            let action = "/dashboard/identity/\(path)/\(Components.segment(id))/update/"
            return visit.page("Edit \(member.capitalized) \(item["name"]?.stringValue ?? id)",
                              "<p>ID: \(id)</p>" + Components.form(visit, action: action, fields, submit: "Save", id: "edit"))
        }
        routes.action("identity/\(path)/:id/update", back: { _ in "/dashboard/identity/\(path)/" }) { visit, form in
            var attributes = Dictionary(uniqueKeysWithValues: texts.map { ($0.name, JSON.string(form.get($0.name) ?? "")) })
            attributes["enabled"] = .bool(form.get("enabled") == "1")
            if password, let secret = form.get("password"), !secret.isEmpty { attributes["password"] = .string(secret) }
            let id = Components.segment(visit.context.parameters.get("id") ?? "")
            try await visit.send(.patch, "/identity/v3/\(path)/\(id)", [member: .object(attributes)])
            return "Saved \(member) \(form.get("name") ?? "")."
        }
    }

    /// A kind with a name, a description and `enabled` (domains, projects): its list with `columns`
    /// (title, attribute) among the common ones, and its create, edit and delete.
    static func addNamedAndDescribed(_ routes: Routes, _ path: String, member: String, title: String, columns: [(title: String, key: String)]) {
        routes.page("identity/\(path)") { visit in
            let items = try await visit.get("/identity/v3/\(path)")[path]?.array ?? []
            return visit.page(title, Components.table(items, [.init("Name") { editLink(path, $0) }, .init("ID", key: "id")] + columns.map { .init($0.title, key: $0.key) } + [
                .init("Enabled", key: "enabled"), .init("Description", key: "description"),
                .init("Actions") { deleteButton(visit, path, member, id: $0["id"]) },
            ], empty: "No \(path).", id: path) + "<h2>Create \(member.capitalized)</h2>" + Components.form(visit, action: "/dashboard/identity/\(path)/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "description", label: "Description", kind: .text),
            ], submit: "Create \(member.capitalized)", id: member))
        }
        addCreate(routes, path, member: member, fields: ["name", "description"])
        addDelete(routes, path, member: member)
        addEdit(routes, path, member: member, texts: [("name", "Name"), ("description", "Description")])
    }

    /// Horizon's user form: a user with a password, and optionally a role on a primary project.
    static func addUsers(_ routes: Routes) {
        routes.page("identity/users") { visit in
            async let users = visit.get("/identity/v3/users")
            async let projects = visit.get("/identity/v3/projects")
            async let roles = visit.get("/identity/v3/roles")
            return visit.page("Users", Components.table(try await users["users"]?.array ?? [], [
                .init("Name") { editLink("users", $0) }, .init("ID", key: "id"), .init("Email", key: "email"), .init("Domain", key: "domain_id"),
                .init("Enabled", key: "enabled"), .init("Default Project", key: "default_project_id"),
                .init("Actions") { deleteButton(visit, "users", "user", id: $0["id"]) },
            ], empty: "No users.", id: "users") + "<h2>Create User</h2>" + Components.form(visit, action: "/dashboard/identity/users/create/", [
                .init(name: "name", label: "User Name", kind: .text, required: true), .init(name: "email", label: "Email", kind: .text),
                .init(name: "password", label: "Password", kind: .password, required: true),
                .init(name: "project", label: "Primary Project", kind: .select(Components.options(try await projects["projects"]?.array ?? [], none: "None"))),
                .init(name: "role", label: "Role", kind: .select(Components.options(try await roles["roles"]?.array ?? [], none: "None")),
                      hint: "Given on the primary project."),
            ], submit: "Create User", id: "user"))
        }
        routes.action("identity/users/create", back: { _ in "/dashboard/identity/users/" }) { visit, form in
            let name = form.get("name") ?? ""
            let project = form.get("project") ?? "", role = form.get("role") ?? ""
            guard role.isEmpty || !project.isEmpty else { throw DashboardError.badForm("A role is given on a project: choose the primary project.") }
            var user: [String: JSON] = ["name": .string(name), "password": .string(form.get("password") ?? "")]
            if let email = form.get("email"), !email.isEmpty { user["email"] = .string(email) }
            if !project.isEmpty { user["default_project_id"] = .string(project) }
            let created = try await visit.send(.post, "/identity/v3/users", ["user": .object(user)])
            if !role.isEmpty, let id = created["user"]?["id"]?.stringValue {
                try await visit.send(.put, "/identity/v3/projects/\(Components.segment(project))/users/\(Components.segment(id))/roles/\(Components.segment(role))")
            }
            return "Created user \(name)."
        }
        addDelete(routes, "users", member: "user")
        addEdit(routes, "users", member: "user", texts: [("name", "User Name"), ("email", "Email")], password: true)
    }

    static func addGroups(_ routes: Routes) {
        routes.page("identity/groups") { visit in
            async let groups = visit.get("/identity/v3/groups")
            async let users = visit.get("/identity/v3/users")
            let list = try await groups["groups"]?.array ?? []
            return visit.page("Groups", Components.table(list, [
                .init("Name", key: "name"), .init("ID", key: "id"), .init("Description", key: "description"), .init("Domain", key: "domain_id"),
                .init("Actions") { deleteButton(visit, "groups", "group", id: $0["id"]) },
            ], empty: "No groups.", id: "groups") + "<h2>Create Group</h2>" + Components.form(visit, action: "/dashboard/identity/groups/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "description", label: "Description", kind: .text),
            ], submit: "Create Group", id: "group") + "<h2>Add User to Group</h2>" + Components.form(visit, action: "/dashboard/identity/groups/add_user/", [
                .init(name: "group", label: "Group", kind: .select(Components.options(list)), required: true),
                .init(name: "user", label: "User", kind: .select(Components.options(try await users["users"]?.array ?? [])), required: true),
            ], submit: "Add User", id: "membership"))
        }
        addCreate(routes, "groups", member: "group", fields: ["name", "description"])
        routes.action("identity/groups/add_user", back: { _ in "/dashboard/identity/groups/" }) { visit, form in
            try await visit.send(.put, "/identity/v3/groups/\(Components.segment(form.get("group") ?? ""))/users/\(Components.segment(form.get("user") ?? ""))")
            return "Added the user to the group."
        }
        addDelete(routes, "groups", member: "group")
    }

    static func addRoles(_ routes: Routes) {
        routes.page("identity/roles") { visit in
            let roles = try await visit.get("/identity/v3/roles")["roles"]?.array ?? []
            return visit.page("Roles", Components.table(roles, [
                .init("Name", key: "name"), .init("ID", key: "id"), .init("Actions") { deleteButton(visit, "roles", "role", id: $0["id"]) },
            ], empty: "No roles.", id: "roles") + "<h2>Create Role</h2>" + Components.form(visit, action: "/dashboard/identity/roles/create/", [
                .init(name: "name", label: "Name", kind: .text, required: true),
            ], submit: "Create Role", id: "role"))
        }
        addCreate(routes, "roles", member: "role", fields: ["name"])
        addDelete(routes, "roles", member: "role")
    }

    /// Role assignments on projects and domains, of users and of groups: listed with names,
    /// granted from a form, revoked from a row.
    static func addAssignments(_ routes: Routes) {
        routes.page("identity/role_assignments") { visit in
            async let assignments = visit.get("/identity/v3/role_assignments?include_names=true")
            async let roles = visit.get("/identity/v3/roles")
            async let users = visit.get("/identity/v3/users")
            async let groups = visit.get("/identity/v3/groups")
            async let projects = visit.get("/identity/v3/projects")
            func named(_ value: JSON?) -> String { value?["name"]?.stringValue ?? value?["id"]?.stringValue ?? "-" }
            let rows = (try await assignments["role_assignments"]?.array ?? []).filter { Assignment($0) != nil }
            let actors = Components.options(try await users["users"]?.array ?? [], label: { "User: " + ($0["name"]?.stringValue ?? "") }).map { (value: "user:" + $0.value, label: $0.label) }
                + Components.options(try await groups["groups"]?.array ?? [], label: { "Group: " + ($0["name"]?.stringValue ?? "") }).map { (value: "group:" + $0.value, label: $0.label) }
            return visit.page("Role Assignments", Components.table(rows, [
                .init("Role") { "\(named($0["role"]))" },
                .init("User or Group") { $0["user"] != nil ? "User: \(named($0["user"]))" : "Group: \(named($0["group"]))" },
                .init("Scope") { $0["scope"]?["project"] != nil ? "Project: \(named($0["scope"]?["project"]))" : "Domain: \(named($0["scope"]?["domain"]))" },
                .init("Actions") { row in
                    guard let assignment = Assignment(row) else { return "" }
                    return Components.button(visit, action: "/dashboard/identity/role_assignments/revoke/", "Revoke", confirm: "Revoke this role?",
                                             fields: [("path", assignment.path)])
                },
            ], empty: "No role assignments.", id: "assignments") + "<h2>Grant Role</h2>" + Components.form(visit, action: "/dashboard/identity/role_assignments/grant/", [
                .init(name: "role", label: "Role", kind: .select(Components.options(try await roles["roles"]?.array ?? [])), required: true),
                .init(name: "actor", label: "User or Group", kind: .select(actors), required: true),
                .init(name: "project", label: "Project", kind: .select(Components.options(try await projects["projects"]?.array ?? [])), required: true),
            ], submit: "Grant Role", id: "grant"))
        }
        routes.action("identity/role_assignments/grant", back: { _ in "/dashboard/identity/role_assignments/" }) { visit, form in
            let actor = (form.get("actor") ?? "").split(separator: ":", maxSplits: 1).map(String.init)
            guard actor.count == 2, ["user", "group"].contains(actor[0]) else { throw DashboardError.badForm("Choose a user or a group.") }
            let assignment = Assignment(scope: "projects", scopeID: form.get("project") ?? "", actor: actor[0] + "s", actorID: actor[1], roleID: form.get("role") ?? "")
            try await visit.send(.put, "/identity/v3" + assignment.path)
            return "Granted the role."
        }
        routes.action("identity/role_assignments/revoke", back: { _ in "/dashboard/identity/role_assignments/" }) { visit, form in
            // The path comes back from the page: it is checked to be one an assignment makes.
            guard let assignment = Assignment(path: form.get("path") ?? "") else { throw DashboardError.badForm("That is not a role assignment.") }
            try await visit.send(.delete, "/identity/v3" + assignment.path)
            return "Revoked the role."
        }
    }

    /// A grant's place in Identity's API: `/<projects|domains>/<id>/<users|groups>/<id>/roles/<id>`.
    struct Assignment {
        let scope: String, scopeID: String, actor: String, actorID: String, roleID: String

        init(scope: String, scopeID: String, actor: String, actorID: String, roleID: String) {
            (self.scope, self.scopeID, self.actor, self.actorID, self.roleID) = (scope, scopeID, actor, actorID, roleID)
        }

        /// A direct assignment of the listing on a project or a domain (not an inherited or a system one).
        init?(_ row: JSON) {
            guard row["scope"]?["OS-INHERIT:inherited_to"] == nil, let role = row["role"]?["id"]?.stringValue else { return nil }
            let (scope, scopeID): (String, String?) = row["scope"]?["project"] != nil ? ("projects", row["scope"]?["project"]?["id"]?.stringValue)
                : ("domains", row["scope"]?["domain"]?["id"]?.stringValue)
            let (actor, actorID): (String, String?) = row["user"] != nil ? ("users", row["user"]?["id"]?.stringValue) : ("groups", row["group"]?["id"]?.stringValue)
            guard let scopeID, let actorID else { return nil }
            self.init(scope: scope, scopeID: scopeID, actor: actor, actorID: actorID, roleID: role)
        }

        init?(path: String) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 7, parts[0].isEmpty, ["projects", "domains"].contains(parts[1]), ["users", "groups"].contains(parts[3]), parts[5] == "roles",
                  [parts[2], parts[4], parts[6]].allSatisfy({ !$0.isEmpty && Components.segment($0) == $0 }) else { return nil }
            self.init(scope: parts[1], scopeID: parts[2], actor: parts[3], actorID: parts[4], roleID: parts[6])
        }

        var path: String {
            "/\(scope)/\(Components.segment(scopeID))/\(actor)/\(Components.segment(actorID))/roles/\(Components.segment(roleID))"
        }
    }
}
