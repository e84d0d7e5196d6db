import Foundation
import HTTPTypes

/// What a console websocket request carries: its token and whether its page came from this proxy.
/// The rules are Nova's console proxy's.
struct ConsoleRequest {
    let request: HTTPRequest

    /// The token from the query (`/?token=…`), else from a `token` cookie (noVNC before 1.1 sent it so).
    var token: String? {
        let query = URLComponents(string: request.path ?? "")?.queryItems ?? []
        if let token = query.first(where: { $0.name == "token" })?.value, !token.isEmpty { return token }
        return cookies["token"]
    }

    private var cookies: [String: String] {
        var all: [String: String] = [:]
        for field in request.headerFields[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { all[parts[0]] = parts[1] }
            }
        }
        return all
    }

    /// A browser names the page that opened the websocket in `Origin`: it must be this proxy's (by
    /// the address the client used or the public one), so no other site's page can reach a console.
    /// A client that is not a browser sends none.
    func originAllowed(publicURL: URL?) -> Bool {
        guard let origin = request.headerFields[.origin] else { return true }
        guard let url = URL(string: origin), let host = url.host?.lowercased(), ["http", "https"].contains(url.scheme ?? "") else { return false }
        var allowed: Set<String> = []
        if let authority = request.authority, let ownHost = URL(string: "http://\(authority)")?.host {
            allowed.insert(ownHost.lowercased())
        }
        if let publicHost = publicURL?.host { allowed.insert(publicHost.lowercased()) }
        return allowed.contains(host)
    }

    /// noVNC asks for the `binary` subprotocol; a browser drops a websocket whose subprotocol is not answered.
    var wantsBinary: Bool {
        request.headerFields[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
            .contains { $0.trimmingCharacters(in: .whitespaces) == "binary" }
    }
}
