import Hummingbird

/// The fault body Nova and Cinder share: `{"itemNotFound": {"code": 404, "message": "…"}}`, the
/// key named by the status.
public struct WSGIFaults: JSONFaultFormat {
    public init() {}

    public func render(_ error: APIError) -> JSON {
        [Self.name(error.status): ["code": JSON(Int(error.status.code)), "message": .string(error.message)]]
    }

    static func name(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: return "badRequest"
        case 401: return "unauthorized"
        case 403: return "forbidden"
        case 404: return "itemNotFound"
        case 405: return "badMethod"
        case 406: return "notAcceptable"
        case 409: return "conflictingRequest"
        case 413, 429: return "overLimit"
        case 415: return "badMediaType"
        case 501: return "notImplemented"
        case 503: return "serviceUnavailable"
        default: return "computeFault"
        }
    }
}
