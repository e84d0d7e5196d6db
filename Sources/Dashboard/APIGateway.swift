import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MartletCore
import NIOCore

/// The public APIs, called in this process through the same router, middlewares, policy and faults
/// as a request over HTTP: what the dashboard may do for a user is exactly what the CLI may do.
public struct APIGateway: Sendable {
    let respond: @Sendable (Request, MartletContext) async throws -> Response
    let logger: Logger

    public init<Responder: HTTPResponder>(_ responder: Responder, logger: Logger) where Responder.Context == MartletContext {
        self.respond = { try await responder.respond(to: $0, context: $1) }
        self.logger = logger
    }

    /// One call; `body` is JSON or a stream passed straight through (an upload from the browser).
    func call(_ method: HTTPRequest.Method, _ path: String, token: String?, json: JSON? = nil,
              stream: RequestBody? = nil, headers: HTTPFields = [:]) async throws -> Response {
        var fields = headers
        if let token { fields[.authToken] = token }
        fields[.accept] = fields[.accept] ?? "application/json"
        var body = RequestBody(buffer: ByteBuffer())
        if let json {
            let bytes = json.serialized()
            fields[.contentType] = fields[.contentType] ?? "application/json"
            fields[.contentLength] = String(bytes.count)
            body = RequestBody(buffer: ByteBuffer(bytes: bytes))
        } else if let stream {
            body = stream
        }
        let request = Request(head: .init(method: method, scheme: "http", authority: "localhost", path: path, headerFields: fields), body: body)
        return try await respond(request, MartletContext(inProcess: logger))
    }

    /// A call whose answer is JSON (or nothing); a fault becomes `DashboardError.api` with the service's message.
    func json(_ method: HTTPRequest.Method, _ path: String, token: String?, body: JSON? = nil,
              headers: HTTPFields = [:]) async throws -> Reply {
        let response = try await call(method, path, token: token, json: body, headers: headers)
        let bytes = try await response.body.collected()
        guard (200..<300).contains(response.status.code) else {
            throw DashboardError.api(status: response.status.code, message: Self.message(of: bytes, status: response.status))
        }
        let document = bytes.readableBytes == 0 ? JSON.null : ((try? JSON.parse(bytes.readableBytesView)) ?? .null)
        return Reply(status: response.status.code, headers: response.headers, json: document)
    }

    struct Reply {
        let status: Int
        let headers: HTTPFields
        let json: JSON
    }

    /// The person-readable part of any service's fault body (`{"itemNotFound": {"message": …}}`,
    /// `{"NeutronError": {…}}`, `{"error": {…}}`, or plain text).
    static func message(of bytes: ByteBuffer, status: HTTPResponse.Status) -> String {
        if let document = try? JSON.parse(bytes.readableBytesView), let found = findMessage(document, depth: 0) { return found }
        let text = String(buffer: bytes).trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty, !text.hasPrefix("<"), text.count < 500 { return text }
        return status.reasonPhrase
    }

    private static func findMessage(_ json: JSON, depth: Int) -> String? {
        guard depth < 3, let members = json.objectValue else { return nil }
        for key in ["message", "detail", "title"] { if let text = members[key]?.stringValue, !text.isEmpty { return text } }
        for key in members.keys.sorted() { if let found = findMessage(members[key]!, depth: depth + 1) { return found } }
        return nil
    }
}

extension ResponseBody {
    /// The whole body, for the JSON answers of in-process calls.
    func collected() async throws -> ByteBuffer {
        let writer = CollectingWriter()
        try await write(writer)
        return writer.buffer.withLock { $0 }
    }
}

import Synchronization

private final class CollectingWriter: ResponseBodyWriter, Sendable {
    let buffer = Mutex(ByteBuffer())
    func write(_ chunk: ByteBuffer) async throws { _ = buffer.withLock { $0.writeImmutableBuffer(chunk) } }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// What went wrong, as the page shows it.
enum DashboardError: Error {
    /// A service refused: its status and message.
    case api(status: Int, message: String)
    /// The session is gone or its token expired.
    case signedOut
    /// The browser sent something the dashboard cannot use.
    case badForm(String)
}
