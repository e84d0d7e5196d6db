import Hummingbird
import MartletCore
import NIOCore

/// Glance's faults: the plain-text pages of its web framework (`404 Not Found\n\n<message>\n\n   `).
public struct GlanceFaults: FaultFormat {
    public init() {}

    public func response(for error: APIError) -> Response {
        var headers = error.headers
        headers[.contentType] = "text/plain; charset=UTF-8"
        let text = "\(error.status.code) \(error.status.reasonPhrase)\n\n\(error.message)\n\n   "
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
