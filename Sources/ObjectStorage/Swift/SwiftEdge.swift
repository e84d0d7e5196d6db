import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

extension HTTPField.Name {
    static let transID = HTTPField.Name("X-Trans-Id")!
    static let timestamp = HTTPField.Name("X-Timestamp")!
    static let etag = HTTPField.Name("ETag")!
}

/// Swift's faults: a short plain-text body with the status (Swift clients show it as it is).
struct SwiftFaults: FaultFormat {
    func response(for error: APIError) -> Response {
        var headers = error.headers
        headers[.contentType] = "text/plain; charset=utf-8"
        let text = error.message.hasSuffix("\n") ? error.message : error.message + "\n"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// What every Swift response carries: a transaction ID (`tx` + 21 hex digits + `-` + the time
/// in hex, as Swift makes them), a content type even when empty, and Swift's fault bodies.
struct SwiftEdge: RouterMiddleware {
    typealias Context = MartletContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            response = SwiftFaults().response(for: apiError)
            if request.method == .head { response.body = .init() }
        }
        let id = Self.transactionID()
        response.headers[.transID] = id
        response.headers[.openstackRequestID] = id
        if response.headers[.contentType] == nil { response.headers[.contentType] = "text/html; charset=UTF-8" }
        return response
    }

    static func transactionID() -> String {
        func hex(_ value: UInt64, _ width: Int) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let random = hex(UInt64.random(in: 0..<(1 << 40)), 10) + hex(UInt64.random(in: 0..<(1 << 44)), 11)
        return "tx" + random + "-" + hex(UInt64(Date().timeIntervalSince1970), 10)
    }
}
