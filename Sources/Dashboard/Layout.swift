import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The page shell, and the headers every page is sent with.
enum Layout {
    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            + "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    static func response(_ html: HTML, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html.text)))
    }

    static func document(title: String, body: HTML) -> HTML {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) - Martlet</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/static/app.css"><script src="/dashboard/static/app.js" defer></script></head>
        <body>\(body)</body></html>
        """
    }

    static let projectSections: [(path: String, title: String)] = [
        ("/dashboard/project/", "Overview"), ("/dashboard/project/instances/", "Instances"), ("/dashboard/project/volumes/", "Volumes"),
        ("/dashboard/project/images/", "Images"), ("/dashboard/project/key_pairs/", "Key Pairs"),
        ("/dashboard/project/network_topology/", "Network Topology"), ("/dashboard/project/networks/", "Networks"),
        ("/dashboard/project/routers/", "Routers"), ("/dashboard/project/security_groups/", "Security Groups"),
        ("/dashboard/project/floating_ips/", "Floating IPs"), ("/dashboard/project/containers/", "Object Store"),
    ]

    static let adminSections: [(path: String, title: String)] = [
        ("/dashboard/admin/hypervisors/", "Hypervisors"), ("/dashboard/admin/aggregates/", "Host Aggregates"),
        ("/dashboard/admin/instances/", "All Instances"), ("/dashboard/admin/volumes/", "All Volumes"),
        ("/dashboard/admin/flavors/", "Flavors"), ("/dashboard/admin/quotas/", "Quotas"),
        ("/dashboard/admin/services/", "System Services"), ("/dashboard/admin/info/", "System Information"),
    ]

    static let identitySections: [(path: String, title: String)] = [
        ("/dashboard/identity/domains/", "Domains"), ("/dashboard/identity/projects/", "Projects"), ("/dashboard/identity/users/", "Users"),
        ("/dashboard/identity/groups/", "Groups"), ("/dashboard/identity/roles/", "Roles"),
        ("/dashboard/identity/role_assignments/", "Role Assignments"),
    ]

    /// Every user's own: what they sign in with.
    static let userSections: [(path: String, title: String)] = [
        ("/dashboard/identity/application_credentials/", "Application Credentials"),
    ]

    static func signedIn(visit: Visit, title: String, body: HTML, flash: Flash?) -> HTML {
        let session = visit.session
        let current = visit.request.uri.path
        func links(_ sections: [(path: String, title: String)]) -> HTML {
            HTML.join(sections.map { section in
                let here = current == section.path || (section.path != "/dashboard/project/" && current.hasPrefix(section.path))
                return "<li><a href=\"\(section.path)\"\(HTML(raw: here ? " aria-current=\"page\"" : ""))>\(section.title)</a></li>"
            })
        }
        let options = HTML.join(session.projects.map { project in
            "<option value=\"\(project.id)\"\(HTML(raw: project.id == session.projectID ? " selected" : ""))>\(project.name)</option>"
        })
        let admin: HTML = session.isAdmin ? "<h2>Admin</h2><ul>\(links(adminSections))</ul><h2>Identity</h2><ul>\(links(identitySections))</ul>" : ""
        let user: HTML = "<h2>User</h2><ul>\(links(userSections))</ul>"
        let message: HTML = flash.map { "<p class=\"flash\(HTML(raw: $0.isError ? " error" : ""))\" role=\"\(HTML(raw: $0.isError ? "alert" : "status"))\">\($0.text)</p>" } ?? ""
        return document(title: title, body: """
            <header><a class="brand" href="/dashboard/project/">Martlet</a>
            <form class="switcher" method="post" action="/dashboard/auth/switch/">\(visit.csrfInput)
            <label for="project-switch">Project</label> <select id="project-switch" name="project" data-autosubmit>\(options)</select>
            <label for="region-switch">Region</label> <select id="region-switch" name="region"><option>\(visit.dashboard.region)</option></select>
            <button type="submit">Switch</button></form>
            <span class="user">\(session.userName)</span>
            <form method="post" action="/dashboard/auth/logout/">\(visit.csrfInput)<button type="submit">Sign out</button></form></header>
            <div class="frame"><nav aria-label="Sections"><h2>Project</h2><ul>\(links(projectSections))</ul>\(admin)\(user)</nav>
            <main><h1>\(title)</h1>\(message)\(body)</main></div>
            <form id="actions" method="post" hidden>\(visit.csrfInput)</form>
            """)
    }
}
