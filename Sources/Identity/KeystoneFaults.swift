import Hummingbird
import MartletCore

/// Keystone's fault body.
public struct KeystoneFaults: JSONFaultFormat {
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
