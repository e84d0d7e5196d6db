import Foundation
import Hummingbird
import Logging
import Prometheus
import HTTPTypes

extension HTTPField.Name {
    public static let openstackRequestID = HTTPField.Name("x-openstack-request-id")!
    public static let authToken = HTTPField.Name("X-Auth-Token")!
    public static let subjectToken = HTTPField.Name("X-Subject-Token")!
}

/// The edge of every request: request ID, access log, metrics, and turning any error into the
/// owning service's fault body (so nothing escapes as a bare 500).
public struct EdgeMiddleware: RouterMiddleware {
    public typealias Context = MartletContext

    let formats: [String: any FaultFormat]
    let fallback: any FaultFormat
    let metrics: PrometheusCollectorRegistry

    public init(services: [any APIService], fallback: any FaultFormat, metrics: PrometheusCollectorRegistry) {
        self.formats = Dictionary(services.map { ($0.pathPrefix, $0.faultFormat) }, uniquingKeysWith: { a, _ in a })
        self.fallback = fallback
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let service = Self.service(of: request.uri.path)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            let format = formats[service] ?? fallback
            response = format.response(for: apiError)
        }
        if response.headers[.openstackRequestID] == nil { response.headers[.openstackRequestID] = context.requestID }
        let route = context.endpointPath ?? "unmatched"
        let labels = [("service", service.isEmpty ? "root" : service), ("route", route), ("status", String(response.status.code))]
        metrics.makeCounter(descriptor: .init(namespace: "martlet", metricName: "http_requests", unitName: "total", helpText: "HTTP requests served"), labels: labels).increment()
        metrics.makeDurationHistogram(
            descriptor: .init(namespace: "martlet", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency"),
            labels: Array(labels.prefix(2)),
            buckets: Self.buckets
        ).recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        context.logger.debug("\(request.method) \(request.uri.path) \(response.status.code)")
        return response
    }

    static let buckets: [Duration] = [.microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]

    static func service(of path: String) -> String {
        path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}

/// Validates `X-Auth-Token` when present and records the outcome for handlers to use.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = MartletContext
    let validator: any TokenValidator
    /// Path prefix → catalog type (`compute` → `compute`), for tokens limited to some services.
    let serviceTypes: [String: String]

    public init(validator: any TokenValidator, serviceTypes: [String: String] = [:]) {
        self.validator = validator
        self.serviceTypes = serviceTypes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let token = request.header("X-Auth-Token"), !token.isEmpty {
            do {
                let auth = try await validator.validate(token: token)
                // A token outside its limits is refused as keystonemiddleware refuses it: 401.
                context.authResult = allows(auth, request) ? .success(auth)
                    : .failure(.unauthorized("The token's access rules do not allow \(request.method) \(request.uri.path)."))
            } catch let error as APIError {
                context.authResult = .failure(error.status == .notFound ? .unauthorized() : error)
            }
        }
        return try await next(request, context)
    }

    func allows(_ auth: AuthContext, _ request: Request) -> Bool {
        guard let limits = auth.requestLimits else { return true }
        let path = request.uri.path
        let prefix = EdgeMiddleware.service(of: path)
        guard let type = serviceTypes[prefix] else { return limits.allows(serviceType: nil, method: request.method.rawValue, path: path) }
        let below = String(path.dropFirst(prefix.count + 1))
        return limits.allows(serviceType: type, method: request.method.rawValue, path: below.isEmpty ? "/" : below)
    }
}

/// Builds the one router every service hangs off, with the operational endpoints.
public enum APIRouter {
    /// `canWrite` tells `/healthz` whether the store takes writes: a cloud that cannot write is not healthy.
    public static func make(services: [any APIService], validator: any TokenValidator,
                            fallbackFaults: any FaultFormat, metrics: PrometheusCollectorRegistry,
                            canWrite: @escaping @Sendable () async -> Bool = { true }) -> Router<MartletContext> {
        let router = Router(context: MartletContext.self)
        router.middlewares.add(EdgeMiddleware(services: services, fallback: fallbackFaults, metrics: metrics))
        let serviceTypes = Dictionary(services.map { ($0.pathPrefix, $0.catalogType) }, uniquingKeysWith: { first, _ in first })
        router.middlewares.add(AuthMiddleware(validator: validator, serviceTypes: serviceTypes))
        router.get("/healthz") { _, _ -> Response in
            await canWrite() ? Response.json(.ok, ["status": "ok"])
                : Response.json(.serviceUnavailable, ["status": "unavailable", "reason": "the database takes no writes"])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
        for service in services {
            service.addRoutes(to: router.group(RouterPath(service.pathPrefix)))
            service.addRootRoutes(to: router)
        }
        return router
    }
}
