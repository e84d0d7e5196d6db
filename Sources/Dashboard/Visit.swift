import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// One request from a signed-in browser: its session, and the APIs called with the session's token.
struct Visit: Sendable {
    let request: Request
    let context: MartletContext
    let session: Session
    let dashboard: Dashboard

    var projectID: String { session.projectID }

    /// GET on an API path (`/compute/v2.1/servers/detail`); 401 ends the session.
    func get(_ path: String, headers: HTTPFields = [:]) async throws -> JSON {
        try await send(.get, path, headers: headers)
    }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, _ body: JSON? = nil, headers: HTTPFields = [:]) async throws -> JSON {
        try await reply(method, path, body, headers: headers).json
    }

    func reply(_ method: HTTPRequest.Method, _ path: String, _ body: JSON? = nil, headers: HTTPFields = [:]) async throws -> APIGateway.Reply {
        do {
            return try await dashboard.api.json(method, path, token: session.token, body: body, headers: headers)
        } catch DashboardError.api(401, _) {
            throw DashboardError.signedOut
        }
    }

    /// A raw call whose body streams through (uploads and downloads).
    func stream(_ method: HTTPRequest.Method, _ path: String, body: RequestBody?, headers: HTTPFields = [:]) async throws -> Response {
        let response = try await dashboard.api.call(method, path, token: session.token, stream: body, headers: headers)
        if response.status == .unauthorized { throw DashboardError.signedOut }
        guard (200..<300).contains(response.status.code) else {
            let bytes = try await response.body.collected()
            throw DashboardError.api(status: response.status.code, message: APIGateway.message(of: bytes, status: response.status))
        }
        return response
    }

    /// The posted form, once its CSRF token matches the session's.
    func form() async throws -> FormQuery {
        let bytes = try await request.body.collect(upTo: 1 << 20)
        // A row's button sends its fields in the query string (see `Components.button`).
        let form = FormQuery([String(buffer: bytes), request.uri.query ?? ""].filter { !$0.isEmpty }.joined(separator: "&"))
        guard (form.get("csrfmiddlewaretoken") ?? "").constantTimeEquals(session.csrf) else { throw DashboardError.badForm("CSRF") }
        return form
    }

    /// The hidden input every form carries.
    var csrfInput: HTML { "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"\(session.csrf)\">" }

    func page(_ title: String, _ body: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Layout.response(Layout.signedIn(visit: self, title: title, body: body, flash: dashboard.sessions.takeFlash(session.id)), status: status)
    }

    func errorPage(status: Int, message: String) -> Response {
        let title = status == 403 ? "Not allowed" : status == 404 ? "Not found" : "Something went wrong"
        return page(title, "<p class=\"error\" role=\"alert\">\(message)</p><p><a href=\"/dashboard/project/\">Back to the overview</a></p>",
                    status: HTTPResponse.Status(code: status))
    }
}
