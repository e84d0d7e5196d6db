import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// The web dashboard at `/dashboard`: server-rendered pages over the public APIs, called in process.
public struct Dashboard: Sendable {
    let api: APIGateway
    let sessions = SessionStore()
    /// Cookies marked `Secure` when the cloud is served over HTTPS.
    let secureCookies: Bool
    let region: String

    public init(api: APIGateway, publicURL: String, region: String = "RegionOne") {
        self.api = api
        self.secureCookies = publicURL.lowercased().hasPrefix("https:")
        self.region = region
    }

    public func addRoutes(to router: Router<MartletContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/dashboard/") }
        let routes = Routes(dashboard: self, group: router.group("dashboard"))
        routes.addStatic()
        Authentication.addRoutes(routes)
        OverviewView.addRoutes(routes)
        InstancesView.addRoutes(routes)
        VolumesView.addRoutes(routes)
        ImagesView.addRoutes(routes)
        KeyPairsView.addRoutes(routes)
        NetworksView.addRoutes(routes)
        RoutersView.addRoutes(routes)
        SecurityView.addRoutes(routes)
        TopologyView.addRoutes(routes)
        ObjectStoreView.addRoutes(routes)
        AdminView.addRoutes(routes)
        QuotasView.addRoutes(routes)
        IdentityAdminView.addRoutes(routes)
        ApplicationCredentialsView.addRoutes(routes)
    }
}

/// Registers pages and actions with the session, CSRF and error handling every one of them needs.
struct Routes {
    let dashboard: Dashboard
    let group: RouterGroup<MartletContext>

    static let cookie = "martlet_session"

    func addStatic() {
        group.get("static/app.css") { _, _ in Assets.response(Assets.css, type: "text/css; charset=utf-8") }
        group.get("static/app.js") { _, _ in Assets.response(Assets.javascript, type: "text/javascript; charset=utf-8") }
    }

    /// A page for a signed-in user; an API's refusal is shown on the page with its status.
    func page(_ path: String, _ render: @escaping @Sendable (Visit) async throws -> Response) {
        let dashboard = self.dashboard
        group.get(RouterPath(path)) { request, context in
            guard let visit = dashboard.visit(request, context) else { return Self.toLogin(request) }
            do {
                return try await render(visit)
            } catch DashboardError.signedOut {
                dashboard.sessions.remove(visit.session.id)
                return Self.toLogin(request)
            } catch DashboardError.api(let status, let message) {
                return visit.errorPage(status: status, message: message)
            } catch DashboardError.badForm(let message) {
                return visit.errorPage(status: 400, message: message)
            }
        }
    }

    /// A state change from a form: CSRF checked, then back to `back` with what happened as the flash.
    func action(_ path: String, back: @escaping @Sendable (Visit) -> String,
                _ perform: @escaping @Sendable (Visit, FormQuery) async throws -> String) {
        let dashboard = self.dashboard
        group.post(RouterPath(path)) { request, context in
            guard let visit = dashboard.visit(request, context) else { return Self.toLogin(request) }
            let form: FormQuery
            do { form = try await visit.form() } catch { return visit.errorPage(status: 403, message: "The form expired or did not come from this dashboard; reload the page and try again.") }
            let target = back(visit)
            do {
                let done = try await perform(visit, form)
                dashboard.sessions.update(visit.session.id) { $0.flash = Flash(isError: false, text: done) }
            } catch DashboardError.signedOut {
                dashboard.sessions.remove(visit.session.id)
                return Self.toLogin(request)
            } catch DashboardError.api(_, let message), DashboardError.badForm(let message) {
                dashboard.sessions.update(visit.session.id) { $0.flash = Flash(isError: true, text: message) }
            }
            return .redirect(to: target, type: .normal)
        }
    }

    /// A call from the page's script (live status, uploads), answered with JSON; CSRF in a header for writes.
    func script(_ method: HTTPRequest.Method, _ path: String,
                _ handle: @escaping @Sendable (Visit, Request) async throws -> Response) {
        let dashboard = self.dashboard
        group.on(RouterPath(path), method: method) { request, context in
            guard let visit = dashboard.visit(request, context) else {
                return Response.json(.unauthorized, ["error": "signed out"])
            }
            if method != .get, !(request.header("X-CSRF-Token") ?? "").constantTimeEquals(visit.session.csrf) {
                return Response.json(.forbidden, ["error": "missing or wrong CSRF token"])
            }
            do {
                return try await handle(visit, request)
            } catch DashboardError.api(let status, let message) {
                return Response.json(.init(code: status), ["error": .string(message)])
            } catch DashboardError.badForm(let message) {
                return Response.json(.badRequest, ["error": .string(message)])
            } catch DashboardError.signedOut {
                return Response.json(.unauthorized, ["error": "signed out"])
            }
        }
    }

    static func toLogin(_ request: Request) -> Response {
        let next = request.method == .get ? request.uri.path : "/dashboard/"
        let query = next == "/dashboard/" || next == "/dashboard" ? "" : "?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "/-_."))) ?? "")
        return .redirect(to: "/dashboard/auth/login/" + query, type: .normal)
    }
}

extension Dashboard {
    /// The signed-in visit this request belongs to, if its cookie names a live session.
    func visit(_ request: Request, _ context: MartletContext) -> Visit? {
        guard let id = request.cookies[Routes.cookie]?.value, let session = sessions.get(id) else { return nil }
        return Visit(request: request, context: context, session: session, dashboard: self)
    }
}

extension Dashboard {
    /// A `Set-Cookie` value for the dashboard's paths: HttpOnly, SameSite=Lax, Secure over HTTPS.
    func cookie(_ name: String, _ value: String, maxAge: Int? = nil) -> String {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/dashboard", secure: secureCookies, httpOnly: true, sameSite: .lax).description
    }
}
