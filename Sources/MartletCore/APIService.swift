import Hummingbird
import ServiceLifecycle

/// How a service renders an `APIError` in its OpenStack fault format.
public protocol FaultFormat: Sendable {
    func response(for error: APIError) -> Response
    /// Headers the service adds to a fault (Keystone's `WWW-Authenticate` on 401).
    func headers(for error: APIError) -> HTTPFields
}

extension FaultFormat {
    public func headers(for error: APIError) -> HTTPFields { [:] }
}

/// Services whose faults are a JSON document.
public protocol JSONFaultFormat: FaultFormat {
    func render(_ error: APIError) -> JSON
}

extension JSONFaultFormat {
    public func response(for error: APIError) -> Response {
        var headers = error.headers
        headers.append(contentsOf: self.headers(for: error))
        return .json(error.status, render(error), headers: headers)
    }
}

/// One OpenStack API served under a path prefix of the single listener (`/identity`, `/compute`, …).
public protocol APIService: Sendable {
    /// The first path component it answers, without slashes: `identity`.
    var pathPrefix: String { get }
    var faultFormat: any FaultFormat { get }
    /// The catalog entry it is registered under: service type and name (`identity`, `keystone`).
    var catalogType: String { get }
    var catalogName: String { get }
    /// The endpoint path in the catalog; `/<pathPrefix>` unless the API wants more (`$(project_id)s`).
    var catalogPath: String { get }
    func addRoutes(to group: RouterGroup<MartletContext>)
    /// Routes outside the prefix (Swift's `/info`, which clients look for at the root).
    func addRootRoutes(to router: Router<MartletContext>)
    /// The routes a policy guards, with their rules, once `addRoutes` has run (paths without the prefix).
    var routes: [RouteSpec] { get }
    /// Loops the service needs running while it serves (its reconcile queues), which the process supervises.
    var backgroundServices: [any Service] { get }
}

extension APIService {
    public var catalogPath: String { "/" + pathPrefix }
    public var routes: [RouteSpec] { [] }
    public var backgroundServices: [any Service] { [] }
    public func addRootRoutes(to router: Router<MartletContext>) {}
}
