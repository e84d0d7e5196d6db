import Hummingbird
import MartletCore
import Synchronization

/// One registered route and the policy rule that guards it (nil: no token needed).
public struct RouteSpec: Sendable, Hashable {
    public let method: HTTPRequest.Method
    public let path: String
    public let rule: String?
}

/// A request on its way through an Identity handler.
struct Call: Sendable {
    let request: Request
    let context: MartletContext
    let auth: AuthContext!
    let rule: String?
    let policy: Policy
    let authorized: Flag

    func param(_ name: String) throws -> String {
        guard let value = context.parameters.get(name) else { throw APIError.badRequest("Missing path parameter \(name).") }
        return value.removingPercentEncoding ?? value
    }

    func query(_ name: String) -> String? { request.uri.queryParameters.get(name) }

    func queryAll(_ name: String) -> [String] { request.uri.queryParameters.getAll(name).map { String($0) } }

    var queryItems: [String: String] {
        var items: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { items[String(key)] = String(value) }
        return items
    }

    func body() async throws -> JSON { try await request.json(context: context) }

    /// Checks the route's rule against attributes the handler loaded (owner, domain, …).
    func authorize(_ target: [String: String]) throws {
        guard let rule else { return }
        var full = target
        for (key, value) in context.parameters { full[String(key)] = full[String(key)] ?? String(value) }
        try policy.enforce(rule, auth: auth, target: full)
        authorized.set()
    }

    func can(_ rule: String, _ target: [String: String] = [:]) -> Bool {
        policy.allows(rule, PolicyRequest(auth: auth, target: target))
    }
}

final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Registers Identity's routes, each with its policy rule, and remembers them for the policy tests.
struct IdentityRouter {
    let group: RouterGroup<MartletContext>
    let policy: Policy
    let recorder: RouteRecorder

    /// `loadsTarget`: the handler calls `authorize` itself once it has loaded the resource;
    /// otherwise the rule is checked up front against the path parameters.
    func on(_ method: HTTPRequest.Method, _ path: String, rule: String?, loadsTarget: Bool = false,
            _ handler: @escaping @Sendable (Call) async throws -> Response) {
        if let rule { precondition(policy.rules[rule] != nil, "route \(method) \(path) names unknown rule \(rule)") }
        recorder.add(RouteSpec(method: method, path: path, rule: rule))
        let policy = self.policy
        group.on(RouterPath(path), method: method) { request, context in
            guard let rule else {
                let auth = try? context.requireAuth()
                return try await handler(Call(request: request, context: context, auth: auth, rule: nil, policy: policy, authorized: Flag()))
            }
            let call = Call(request: request, context: context, auth: try context.requireAuth(), rule: rule, policy: policy, authorized: Flag())
            if !loadsTarget { try call.authorize([:]) }
            let response = try await handler(call)
            // A handler that forgot its check must not answer.
            guard call.authorized.isSet else { throw APIError.forbidden() }
            return response
        }
    }

    func get(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) { on(.get, path, rule: rule, loadsTarget: loadsTarget, h) }
    func head(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) { on(.head, path, rule: rule, loadsTarget: loadsTarget, h) }
    func post(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) { on(.post, path, rule: rule, loadsTarget: loadsTarget, h) }
    func put(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) { on(.put, path, rule: rule, loadsTarget: loadsTarget, h) }
    func patch(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) { on(.patch, path, rule: rule, loadsTarget: loadsTarget, h) }
    func delete(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) { on(.delete, path, rule: rule, loadsTarget: loadsTarget, h) }

    /// GET and HEAD on the same handler (HEAD answers with the GET's status and headers).
    func getAndHead(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (Call) async throws -> Response) {
        get(path, rule: rule, loadsTarget: loadsTarget, h)
        head(path, rule: rule, loadsTarget: loadsTarget) { call in
            var response = try await h(call)
            response.body = .init()
            return response
        }
    }
}

final class RouteRecorder: Sendable {
    private let specs = Mutex<[RouteSpec]>([])
    func add(_ spec: RouteSpec) { specs.withLock { $0.append(spec) } }
    var all: [RouteSpec] { specs.withLock { $0 } }
}

/// Keystone's fault body.
public struct KeystoneFaults: FaultFormat {
    /// `http://host:port/identity`, named in `WWW-Authenticate` so clients know where to log in.
    let identityURL: String

    public func headers(for error: APIError) -> HTTPFields {
        error.status == .unauthorized ? [.wwwAuthenticate: "Keystone uri=\"\(identityURL)\""] : [:]
    }

    public func render(_ error: APIError) -> JSON {
        ["error": ["code": .int(Int64(error.status.code)), "title": .string(Self.title(error.status)), "message": .string(error.message)]]
    }

    static func title(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Request Entity Too Large"
        case 501: return "Not Implemented"
        default: return status.reasonPhrase
        }
    }
}
