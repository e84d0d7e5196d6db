import Foundation
import MartletCore

/// The signed-in user's application credentials: listed, made for the current project (the secret
/// is shown once, as Identity returns it once), and deleted.
enum ApplicationCredentialsView {
    static func addRoutes(_ routes: Routes) {
        let back: @Sendable (Visit) -> String = { _ in "/dashboard/identity/application_credentials/" }
        routes.page("identity/application_credentials") { visit in
            let credentials = try await visit.get(path(visit))["application_credentials"]?.array ?? []
            let roles = visit.session.roles.map { (value: $0, label: $0) }
            return visit.page("Application Credentials", Components.table(credentials, [
                .init("Name", key: "name"), .init("ID", key: "id"), .init("Description", key: "description"), .init("Project", key: "project_id"),
                .init("Roles") { "\(($0["roles"]?.array ?? []).compactMap { $0["name"]?.stringValue }.joined(separator: ", "))" },
                .init("Expires", key: "expires_at"), .init("Unrestricted", key: "unrestricted"),
                .init("Actions") { credential in
                    Components.button(visit, action: "/dashboard/identity/application_credentials/delete/", "Delete",
                                      confirm: "Delete this application credential?", fields: [("id", credential["id"]?.stringValue ?? "")])
                },
            ], empty: "No application credentials.", id: "application-credentials")
                + "<h2>Create Application Credential</h2><p>For the current project, \(visit.session.projectName).</p>"
                + Components.form(visit, action: "/dashboard/identity/application_credentials/create/", [
                    .init(name: "name", label: "Name", kind: .text, required: true), .init(name: "description", label: "Description", kind: .text),
                    .init(name: "expires_at", label: "Expiration (UTC)", kind: .text, hint: "YYYY-MM-DDTHH:MM; left empty, it never expires."),
                    .init(name: "roles", label: "Roles", kind: .multiple(roles), hint: "None chosen: all of yours on this project."),
                    .init(name: "unrestricted", label: "Unrestricted (may make further credentials and trusts)", kind: .checkbox),
                ], submit: "Create Application Credential", id: "application-credential"))
        }
        routes.action("identity/application_credentials/create", back: back) { visit, form in
            var credential: [String: JSON] = ["name": .string(form.get("name") ?? "")]
            if let text = form.get("description"), !text.isEmpty { credential["description"] = .string(text) }
            if let expiry = form.get("expires_at"), !expiry.isEmpty {
                guard let date = Timestamp.parse(expiry) else { throw DashboardError.badForm("The expiration is a time such as 2030-01-31T12:00.") }
                credential["expires_at"] = .string(Timestamp.microseconds(date, zone: false))
            }
            let roles = form.getAll("roles").filter { !$0.isEmpty }
            if !roles.isEmpty { credential["roles"] = .array(roles.map { ["name": .string($0)] }) }
            if form.get("unrestricted") == "1" { credential["unrestricted"] = true }
            let made = try await visit.send(.post, path(visit), ["application_credential": .object(credential)])["application_credential"]
            return "Created application credential \(form.get("name") ?? "") with ID \(Components.text(made?["id"])). "
                + "Its secret, shown this once: \(Components.text(made?["secret"]))"
        }
        routes.action("identity/application_credentials/delete", back: back) { visit, form in
            try await visit.send(.delete, path(visit) + "/" + Components.segment(form.get("id") ?? ""))
            return "Deleted the application credential."
        }
    }

    static func path(_ visit: Visit) -> String {
        "/identity/v3/users/\(Components.segment(visit.session.userID))/application_credentials"
    }
}
