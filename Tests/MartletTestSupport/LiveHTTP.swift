import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceLifecycle

/// A router served on a loopback port for the length of `body`, with a client on one keep-alive
/// connection. Hummingbird's `.live` tester gives a request 20 s, which a two-core CI machine
/// running the whole suite at once can spend on one slow request (a thousand servers made by one
/// call): this waits as long as an OpenStack client would.
public struct LiveHTTP: Sendable {
    public struct Response: Sendable {
        public let status: HTTPResponse.Status
        public let headers: HTTPFields
        public let body: ByteBuffer
    }

    static let timeout: Duration = .seconds(120)
    let client: TestClient
    public let port: Int?

    public func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil) async throws -> Response {
        var headers = headers
        headers[.connection] = "keep-alive"
        let response = try await client.execute(.init(uri, method: method, authority: "localhost", headers: headers, body: body))
        return Response(status: response.status, headers: response.headers, body: response.body ?? ByteBuffer())
    }

    static func serve<Responder: HTTPResponderBuilder, T>(_ router: Responder, _ body: (LiveHTTP) async throws -> T) async throws -> T
    where Responder.Responder.Context: RequestContext, Responder.Responder.Context.Source == ApplicationRequestContextSource {
        let (ports, portsIn) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { portsIn.yield($0.localAddress?.port ?? 0) })
        let services = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else { throw TestFailure("the test server did not start") }
            let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: timeout))
            client.connect()
            do {
                let value = try await body(LiveHTTP(client: client, port: port))
                try? await client.shutdown()
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return value
            } catch {
                try? await client.shutdown()
                await services.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}
