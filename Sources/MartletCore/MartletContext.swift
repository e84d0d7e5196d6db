import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore

/// The per-request context every Martlet route sees.
public struct MartletContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let requestID: String
    /// Set by `AuthMiddleware` when the request carries `X-Auth-Token`.
    public var authResult: Result<AuthContext, APIError>?
    /// Set by `MicroversionMiddleware` for services with microversions.
    public var microversion: Microversion?

    /// The peer, for services that answer by where a request comes from (the metadata service).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.requestID = "req-" + Identifier.uuid()
    }

    /// A request that never crossed a socket: the dashboard's calls to the APIs, made in this process.
    public init(inProcess logger: Logger) {
        self.coreContext = .init(source: InProcessSource(logger: logger))
        self.remoteAddress = nil
        self.requestID = "req-" + Identifier.uuid()
    }

    /// JSON APIs take bodies up to 1 MiB; larger ones get 413.
    public var maxUploadSize: Int { 1 << 20 }

    /// The caller, or the 401 that explains why there is none.
    public func requireAuth() throws -> AuthContext {
        switch authResult {
        case .success(let auth): return auth
        case .failure(let error): throw error
        case nil: throw APIError.unauthorized()
        }
    }
}

private struct InProcessSource: RequestContextSource {
    let logger: Logger
}

extension Request {
    /// The request body as JSON (413 above the context's limit, 400 when not JSON).
    public func json(context: MartletContext) async throws -> JSON {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        return try JSON.parse(buffer.readableBytesView)
    }

    public func header(_ name: String) -> String? {
        guard let field = HTTPField.Name(name) else { return nil }
        return headers[field]
    }
}

extension Response {
    public static func json(_ status: HTTPResponse.Status = .ok, _ body: JSON, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.serialized())))
    }

    public static func empty(_ status: HTTPResponse.Status = .noContent, headers: HTTPFields = [:]) -> Response {
        Response(status: status, headers: headers)
    }
}
