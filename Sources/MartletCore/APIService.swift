import Hummingbird

/// How a service renders an `APIError` in its OpenStack fault format.
public protocol FaultFormat: Sendable {
    func render(_ error: APIError) -> JSON
    /// Headers the service adds to a fault (Keystone's `WWW-Authenticate` on 401).
    func headers(for error: APIError) -> HTTPFields
}

extension FaultFormat {
    public func headers(for error: APIError) -> HTTPFields { [:] }
}

/// One OpenStack API served under a path prefix of the single listener (`/identity`, `/compute`, …).
public protocol APIService: Sendable {
    /// The first path component it answers, without slashes: `identity`.
    var pathPrefix: String { get }
    var faultFormat: any FaultFormat { get }
    /// The catalog entry it is registered under: service type and name (`identity`, `keystone`).
    var catalogType: String { get }
    var catalogName: String { get }
    func addRoutes(to group: RouterGroup<MartletContext>)
}
