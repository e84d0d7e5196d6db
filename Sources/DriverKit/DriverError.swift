import MartletCore

/// What went wrong in a driver, typed so the API can answer with the right status: a server the
/// host no longer has is a 404 or a 409, not a 500, and a transient failure is retried.
public enum DriverError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The host has no such server, volume or port.
    case notFound(String)
    /// The driver runs no host of this name.
    case unknownHost(String)
    /// The object is not in a state that allows the call (a paused server asked for its console).
    case invalidState(String)
    /// The driver or its host cannot do this at all (a feature, a format).
    case unsupported(String)
    /// The input names something the driver refuses (a corrupt or unknown disk image, too large a flavor).
    case invalidInput(String)
    /// A failure that may pass if the call is repeated (a busy host, a timeout).
    case transient(String)
    /// Anything else: the call failed and repeating it will not help.
    case failed(String)

    public var description: String {
        switch self {
        case .notFound(let what): return "not found: \(what)"
        case .unknownHost(let host): return "the driver runs no host \(host)"
        case .invalidState(let why), .unsupported(let why), .invalidInput(let why), .transient(let why), .failed(let why): return why
        }
    }

    /// Whether the reconcile queue should try again.
    public var isTransient: Bool { if case .transient = self { return true } else { return false } }
}

extension DriverError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .notFound: return .notFound(description)
        case .invalidState: return .conflict(description)
        case .invalidInput: return .badRequest(description)
        case .unsupported: return .notImplemented(description)
        case .unknownHost, .transient: return APIError(.serviceUnavailable, description)
        // Not a bug in Martlet but a host that failed: say so rather than hide it behind a generic 500.
        case .failed: return APIError(.internalServerError, description)
        }
    }
}
