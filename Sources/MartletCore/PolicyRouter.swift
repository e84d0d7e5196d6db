import Hummingbird
import Synchronization

/// One registered route and the policy rule that guards it (nil: no token needed).
public struct RouteSpec: Sendable, Hashable {
    public let method: HTTPRequest.Method
    public let path: String
    public let rule: String?
}

/// A request on its way through a handler, with the caller and the route's rule.
public struct APICall: Sendable {
    public let request: Request
    public let context: MartletContext
    public let auth: AuthContext!
    public let rule: String?
    let policy: Policy
    let authorized: Flag

    public func param(_ name: String) throws -> String {
        guard let value = context.parameters.get(name) else { throw APIError.badRequest("Missing path parameter \(name).") }
        return value.removingPercentEncoding ?? value
    }

    public func query(_ name: String) -> String? { request.formQuery.get(name) }

    public func queryAll(_ name: String) -> [String] { request.formQuery.getAll(name) }

    public var queryItems: [String: String] {
        var items: [String: String] = [:]
        for (key, value) in request.formQuery.items { items[key] = value }
        return items
    }

    public func body() async throws -> JSON { try await request.json(context: context) }

    /// Checks the route's rule against attributes the handler loaded (owner, domain, …).
    public func authorize(_ target: [String: String]) throws {
        guard let rule else { return }
        var full = target
        for (key, value) in context.parameters { full[String(key)] = full[String(key)] ?? String(value) }
        try policy.enforce(rule, auth: auth, target: full)
        authorized.set()
    }

    public func can(_ rule: String, _ target: [String: String] = [:]) -> Bool {
        policy.allows(rule, PolicyRequest(auth: auth, target: target))
    }
}

final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Registers a service's routes, each with its policy rule, and remembers them for the policy tests.
public struct PolicyRouter {
    public let group: RouterGroup<MartletContext>
    public let policy: Policy
    public let recorder: RouteRecorder

    public init(group: RouterGroup<MartletContext>, policy: Policy, recorder: RouteRecorder) {
        self.group = group
        self.policy = policy
        self.recorder = recorder
    }

    /// `loadsTarget`: the handler calls `authorize` itself once it has loaded the resource;
    /// otherwise the rule is checked up front against the path parameters.
    public func on(_ method: HTTPRequest.Method, _ path: String, rule: String?, loadsTarget: Bool = false,
            _ handler: @escaping @Sendable (APICall) async throws -> Response) {
        if let rule { precondition(policy.rules[rule] != nil, "route \(method) \(path) names unknown rule \(rule)") }
        recorder.add(RouteSpec(method: method, path: path, rule: rule))
        let policy = self.policy
        group.on(RouterPath(path), method: method) { request, context in
            guard let rule else {
                let auth = try? context.requireAuth()
                return try await handler(APICall(request: request, context: context, auth: auth, rule: nil, policy: policy, authorized: Flag()))
            }
            let call = APICall(request: request, context: context, auth: try context.requireAuth(), rule: rule, policy: policy, authorized: Flag())
            if !loadsTarget { try call.authorize([:]) }
            let response = try await handler(call)
            // A handler that forgot its check must not answer.
            guard call.authorized.isSet else { throw APIError.forbidden() }
            return response
        }
    }

    public func get(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) { on(.get, path, rule: rule, loadsTarget: loadsTarget, h) }
    public func head(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) { on(.head, path, rule: rule, loadsTarget: loadsTarget, h) }
    public func post(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) { on(.post, path, rule: rule, loadsTarget: loadsTarget, h) }
    public func put(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) { on(.put, path, rule: rule, loadsTarget: loadsTarget, h) }
    public func patch(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) { on(.patch, path, rule: rule, loadsTarget: loadsTarget, h) }
    public func delete(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) { on(.delete, path, rule: rule, loadsTarget: loadsTarget, h) }

    /// GET and HEAD on the same handler (HEAD answers with the GET's status and headers).
    public func getAndHead(_ path: String, rule: String?, loadsTarget: Bool = false, _ h: @escaping @Sendable (APICall) async throws -> Response) {
        get(path, rule: rule, loadsTarget: loadsTarget, h)
        head(path, rule: rule, loadsTarget: loadsTarget) { call in
            var response = try await h(call)
            response.body = .init()
            return response
        }
    }
}

public final class RouteRecorder: Sendable {
    private let specs = Mutex<[RouteSpec]>([])
    public init() {}
    func add(_ spec: RouteSpec) { specs.withLock { $0.append(spec) } }
    public var all: [RouteSpec] { specs.withLock { $0 } }
}

