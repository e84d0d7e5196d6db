import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Sign in with a Keystone password, switch project, sign out. The login form keeps Horizon's
/// field names so scripts written for Horizon (tempest's dashboard scenario) can sign in.
enum Authentication {
    static let loginCSRFCookie = "martlet_login_csrf"

    static func addRoutes(_ routes: Routes) {
        let dashboard = routes.dashboard
        routes.group.get("") { request, context in
            dashboard.visit(request, context) == nil ? loginPage(dashboard, request) : .redirect(to: "/dashboard/project/", type: .normal)
        }
        routes.group.get("auth/login") { request, _ in loginPage(dashboard, request) }
        routes.group.post("auth/login") { request, _ in await signIn(dashboard, request) }
        routes.action("auth/switch", back: { _ in "/dashboard/project/" }) { visit, form in
            guard let project = form.get("project"), let known = visit.session.projects.first(where: { $0.id == project }) else {
                throw DashboardError.badForm("Choose one of your projects.")
            }
            let scoped = try await scope(dashboard, unscoped: visit.session.unscopedToken, projectID: known.id)
            dashboard.sessions.update(visit.session.id) { session in
                session.token = scoped.token
                session.expires = scoped.expires
                session.projectID = known.id
                session.projectName = known.name
                session.roles = scoped.roles
            }
            return "Now working in project \(known.name)."
        }
        routes.group.post("auth/logout") { request, context in
            if let visit = dashboard.visit(request, context), (try? await visit.form()) != nil {
                dashboard.sessions.remove(visit.session.id)
                for token in Set([visit.session.token, visit.session.unscopedToken]) {
                    _ = try? await dashboard.api.json(.delete, "/identity/v3/auth/tokens", token: token, headers: [.subjectToken: token])
                }
            }
            var response = Response.redirect(to: "/dashboard/auth/login/", type: .normal)
            response.headers[.setCookie] = dashboard.cookie(Routes.cookie, "", maxAge: 0)
            return response
        }
    }

    static func loginPage(_ dashboard: Dashboard, _ request: Request, error: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let csrf = SessionStore.randomToken()
        let next = request.formQuery.get("next") ?? ""
        let message: HTML = error.map { "<p class=\"flash error\" role=\"alert\">\($0)</p>" } ?? ""
        let html = Layout.document(title: "Sign in", body: """
            <main class="login"><h1>Sign in to Martlet</h1>\(message)
            <form method="post" action="/dashboard/auth/login/">
            <input type="hidden" name="csrfmiddlewaretoken" value="\(csrf)">
            <input type="hidden" name="next" value="\(next)">
            <p class="region">Region <strong>\(dashboard.region)</strong></p><input type="hidden" name="region" value="\(dashboard.region)">
            <label for="id_domain">Domain</label><input id="id_domain" name="domain" value="Default" autocomplete="organization">
            <label for="id_username">User name</label><input id="id_username" name="username" autocomplete="username" required autofocus>
            <label for="id_password">Password</label><input id="id_password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button></form></main>
            """)
        return Layout.response(html, status: status, headers: [.setCookie: dashboard.cookie(loginCSRFCookie, csrf)])
    }

    static func signIn(_ dashboard: Dashboard, _ request: Request) async -> Response {
        guard let bytes = try? await request.body.collect(upTo: 64 << 10) else {
            return loginPage(dashboard, request, error: "The form was too large.", status: .contentTooLarge)
        }
        let form = FormQuery(String(buffer: bytes))
        guard let expected = request.cookies[loginCSRFCookie]?.value,
              (form.get("csrfmiddlewaretoken") ?? "").constantTimeEquals(expected) else {
            return loginPage(dashboard, request, error: "The sign-in form expired; please try again.", status: .forbidden)
        }
        let user = form.get("username") ?? "", password = form.get("password") ?? ""
        let domain = (form.get("domain")?.isEmpty == false ? form.get("domain")! : "Default")
        do {
            let auth: JSON = ["auth": ["identity": ["methods": ["password"], "password": ["user": [
                "name": .string(user), "domain": ["name": .string(domain)], "password": .string(password)]]], "scope": "unscoped"]]
            let unscoped = try await dashboard.api.json(.post, "/identity/v3/auth/tokens", token: nil, body: auth)
            guard let token = unscoped.headers[.subjectToken], let userJSON = unscoped.json["token"]?["user"] else {
                return loginPage(dashboard, request, error: "The identity service gave no token.", status: .badGateway)
            }
            let listed = try await dashboard.api.json(.get, "/identity/v3/auth/projects", token: token)
            let projects = listed.json["projects"]?.array.compactMap { project -> (id: String, name: String)? in
                guard project["enabled"] != .bool(false), let id = project["id"]?.stringValue else { return nil }
                return (id, project["name"]?.stringValue ?? id)
            }.sorted { $0.name < $1.name } ?? []
            let defaultProject = userJSON["default_project_id"]?.stringValue
            guard let first = projects.first(where: { $0.id == defaultProject }) ?? projects.first else {
                return loginPage(dashboard, request, error: "You have no role on any project, so there is nothing to show.", status: .forbidden)
            }
            let scoped = try await scope(dashboard, unscoped: token, projectID: first.id)
            let session = Session(
                id: SessionStore.randomToken(), csrf: SessionStore.randomToken(),
                userID: userJSON["id"]?.stringValue ?? "", userName: userJSON["name"]?.stringValue ?? user, domain: domain,
                unscopedToken: token, token: scoped.token, expires: scoped.expires, projectID: first.id, projectName: first.name,
                roles: scoped.roles, projects: projects, flash: nil)
            dashboard.sessions.add(session)
            let next = form.get("next") ?? ""
            // Only a path of this dashboard: never a redirect elsewhere.
            let target = next.hasPrefix("/dashboard/") && !next.contains("//") && !next.contains("\\") ? next : "/dashboard/project/"
            var response = Response.redirect(to: target, type: .normal)
            response.headers.append(HTTPField(name: .setCookie, value: dashboard.cookie(Routes.cookie, session.id)))
            response.headers.append(HTTPField(name: .setCookie, value: dashboard.cookie(loginCSRFCookie, "", maxAge: 0)))
            return response
        } catch DashboardError.api(let status, _) where status == 401 {
            return loginPage(dashboard, request, error: "Invalid user name, password or domain.", status: .unauthorized)
        } catch DashboardError.api(_, let message) {
            return loginPage(dashboard, request, error: message, status: .badRequest)
        } catch {
            return loginPage(dashboard, request, error: "Signing in failed; please try again.", status: .internalServerError)
        }
    }

    struct Scoped {
        let token: String
        let expires: Date
        let roles: [String]
    }

    static func scope(_ dashboard: Dashboard, unscoped: String, projectID: String) async throws -> Scoped {
        let body: JSON = ["auth": ["identity": ["methods": ["token"], "token": ["id": .string(unscoped)]], "scope": ["project": ["id": .string(projectID)]]]]
        let reply = try await dashboard.api.json(.post, "/identity/v3/auth/tokens", token: nil, body: body)
        guard let token = reply.headers[.subjectToken] else { throw DashboardError.api(status: 502, message: "The identity service gave no token.") }
        let expires = reply.json["token"]?["expires_at"]?.stringValue.flatMap(Timestamp.parse) ?? Date().addingTimeInterval(3600)
        let roles = reply.json["token"]?["roles"]?.array.compactMap { $0["name"]?.stringValue } ?? []
        return Scoped(token: token, expires: expires, roles: roles)
    }
}
