import Hummingbird
import NIOCore
import NIOHTTP1

/// A failure the client is told about. Each service renders it in its own OpenStack fault format.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var headers: HTTPFields
    /// A machine-readable name for the failure, for fault formats that carry one (Neutron's `type`).
    public var type: String?

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], type: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.type = type
    }

    public static func badRequest(_ message: String) -> APIError { .init(.badRequest, message) }
    public static func unauthorized(_ message: String = "The request you have made requires authentication.") -> APIError {
        .init(.unauthorized, message)
    }
    public static func forbidden(_ message: String = "You are not authorized to perform the requested action.") -> APIError {
        .init(.forbidden, message)
    }
    public static func notFound(_ message: String) -> APIError { .init(.notFound, message) }
    public static func conflict(_ message: String) -> APIError { .init(.conflict, message) }
    public static func tooLarge(_ message: String = "Request is too large.") -> APIError { .init(.contentTooLarge, message) }
    public static func notImplemented(_ message: String) -> APIError { .init(.notImplemented, message) }
    public static func internalError() -> APIError {
        .init(.internalServerError, "An unexpected error prevented the server from fulfilling your request.")
    }

    /// Converts whatever a handler threw into an APIError, never leaking internals.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let e as APIError: return e
        case let e as any APIErrorConvertible: return e.apiError
        case is NIOTooManyBytesError: return .tooLarge()
        // The body's framing broke (a bad chunk size, fewer bytes than Content-Length said): the client's fault.
        case let e as HTTPParserError: return .badRequest("The request body is malformed: \(e).")
        case let e as HTTPError:
            switch e.status {
            case .contentTooLarge: return .tooLarge()
            case .notFound: return .notFound(e.body ?? "The resource could not be found.")
            case .methodNotAllowed: return .init(.methodNotAllowed, "The method is not allowed for the requested URL.")
            default:
                if e.status.code < 500 { return .init(e.status, e.body ?? e.status.reasonPhrase) }
                return .internalError()
            }
        default: return .internalError()
        }
    }
}

/// An error of a lower layer that knows the fault it stands for (a store's timeout, a driver's failure).
public protocol APIErrorConvertible: Error {
    var apiError: APIError { get }
}
