import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// One Swift request, its path split into account, container and object (names decoded; an
/// object name is everything after the container, slashes and all).
struct SwiftRequest: Sendable {
    let request: Request
    let context: MartletContext
    let account: String
    let container: String?
    let object: String?
    let access: Access

    var method: HTTPRequest.Method { request.method }
    func query(_ name: String) -> String? { request.formQuery.get(name) }
    func has(_ name: String) -> Bool { request.formQuery.has(name) }
    func header(_ name: String) -> String? { request.header(name) }
    var fields: [(name: String, value: String)] { Metadata.fields(request) }

    init(_ request: Request, _ context: MartletContext, roles: AccessRoles) throws {
        self.request = request
        self.context = context
        let path = request.uri.path
        guard let range = path.range(of: "/v1/") else { throw APIError.notFound("Not Found") }
        let rest = path[range.upperBound...]
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        func decoded(_ text: String) throws -> String {
            guard let value = text.removingPercentEncoding else { throw APIError.preconditionFailed("Invalid UTF8 or contains NULL") }
            if value.utf8.contains(0) { throw APIError.preconditionFailed("Invalid UTF8 or contains NULL") }
            return value
        }
        account = try decoded(parts[0])
        guard account.hasPrefix("AUTH_"), account.count > 5 else { throw APIError.notFound("Not Found") }
        container = parts.count > 1 && !parts[1].isEmpty ? try decoded(parts[1]) : nil
        object = parts.count > 2 && !parts[2].isEmpty ? try decoded(parts[2]) : nil
        if let container, container.utf8.count > Limits.containerNameLength {
            throw APIError.badRequest("Container name length of \(container.utf8.count) longer than \(Limits.containerNameLength)")
        }
        if let object, object.utf8.count > Limits.objectNameLength {
            throw APIError.badRequest("Object name length of \(object.utf8.count) longer than \(Limits.objectNameLength)")
        }
        let auth = try? context.requireAuth()
        access = Access(auth: auth, referrer: request.headers[.referer], roles: roles)
    }

    var owns: Bool { access.owns(account) }
    var reads: Bool { access.reads(account) }
}

extension APIError {
    static func preconditionFailed(_ message: String) -> APIError { .init(.preconditionFailed, message) }
}

/// Dispatches `/object-store/v1/…` by what the path names and the method.
struct SwiftAPI: Sendable {
    let service: ObjectStorageService
    static let copy = HTTPRequest.Method("COPY")!
    static let methods: [HTTPRequest.Method] = [.get, .head, .put, .post, .delete, .options, copy]

    func handle(_ request: Request, _ context: MartletContext) async throws -> Response {
        let call = try SwiftRequest(request, context, roles: service.accessRoles)
        if call.method == .options { return CORS.preflight(call) }
        switch (call.container, call.object) {
        case (nil, _): return try await AccountRoutes(service: service).handle(call)
        case (let container?, nil): return try await ContainerRoutes(service: service).handle(call, container)
        case (let container?, let object?): return try await ObjectRoutes(service: service).handle(call, container, object)
        }
    }
}

/// Preflight answers: Swift allows cross-origin calls the container's CORS metadata names.
enum CORS {
    static func preflight(_ call: SwiftRequest) -> Response {
        Response(status: .ok, headers: [.allow: "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE", .contentLength: "0"])
    }
}
