import Crypto
import DriverKit
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Guests' requests to `http://169.254.169.254`, taken inside the namespace they reach it in (a
/// router's, or the DHCP namespace of a network without a router) and passed on to Martlet's
/// metadata service, which learns the server they come from by `X-Instance-ID` signed with the
/// shared secret. Neutron runs a haproxy per router and a metadata agent for this; here it is a
/// listening socket per namespace, served by this process (`NamespaceSocket`).
///
/// A request whose source address is no server port of the namespace's networks is answered 404
/// here and goes no further; what a guest sends in `X-Instance-ID` is replaced, never passed on.
public final class MetadataProxy: Sendable {
    /// Where the metadata service listens, and the secret it checks signatures with.
    public struct Upstream: Sendable {
        public var host: String
        public var port: Int
        public var secret: String

        public init(host: String, port: Int, secret: String) {
            self.host = host
            self.port = port
            self.secret = secret
        }
    }

    static let address = "169.254.169.254"
    /// More than any metadata request needs (cloud-init sends none; a password post is 256 bytes).
    static let maximumBody = 64 * 1024

    private struct Listener {
        let channel: any Channel
        let namespace: UInt64
        var networks: [String]
    }

    let upstream: Upstream
    let logger: Logger
    private let listeners = Mutex<[String: Listener]>([:])
    /// The server ports it has been told of, by ID.
    private let ports = Mutex<[String: PortPlan]>([:])

    public init(upstream: Upstream, logger: Logger) {
        self.upstream = upstream
        self.logger = logger
    }

    func learn(_ port: PortPlan) { ports.withLock { $0[port.id] = port } }
    func forget(port id: String) { _ = ports.withLock { $0.removeValue(forKey: id) } }

    /// The server whose port on one of `networks` has `address`.
    func instance(at address: String, on networks: [String]) -> String? {
        ports.withLock { ports in
            ports.values.first { networks.contains($0.networkID) && $0.fixedIPs.contains(address) && !$0.deviceID.isEmpty }?.deviceID
        }
    }

    /// Listens in `namespace` for guests of `networks` (kept when it already does).
    func serve(namespace: String, networks: [String]) async throws {
        guard let identity = NamespaceSocket.identity(namespace) else { throw DriverError.transient("namespace \(namespace) is not there") }
        let current = listeners.withLock { listeners -> (any Channel)? in
            guard let listener = listeners[namespace] else { return nil }
            if listener.namespace == identity {
                listeners[namespace]?.networks = networks
                return nil
            }
            // The namespace was made again: the socket is in the old one.
            listeners[namespace] = nil
            return listener.channel
        }
        if let current { try? await current.close() }
        guard listeners.withLock({ $0[namespace] == nil }) else { return }
        try await HostCommand.run(["ip", "-n", namespace, "address", "replace", "\(Self.address)/32", "dev", "lo"], failure: { .transient($0) })
        let socket = try NamespaceSocket.listen(in: namespace, address: Self.address, port: 80)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(socket) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
            }
        }
        listeners.withLock { $0[namespace] = Listener(channel: server.channel, namespace: identity, networks: networks) }
        Task {
            try? await server.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await self.answer(connection, namespace: namespace) }
                        }
                    } catch {}
                }
            }
        }
        logger.info("metadata proxy listening", metadata: ["namespace": "\(namespace)"])
    }

    /// Stops listening in `namespace` (before it is deleted: the socket would keep it alive).
    func stop(namespace: String) async {
        guard let listener = listeners.withLock({ $0.removeValue(forKey: namespace) }) else { return }
        try? await listener.channel.close()
    }

    func namespaces() -> Set<String> { listeners.withLock { Set($0.keys) } }

    private func answer(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, namespace: String) async {
        let source = connection.channel.remoteAddress?.ipAddress
        try? await connection.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            while let part = try await parts.next() {
                guard case .head(let head) = part else { continue }
                var body = ByteBuffer()
                while let next = try await parts.next() {
                    if case .body(let chunk) = next { body.writeImmutableBuffer(chunk) }
                    if case .end = next { break }
                    guard body.readableBytes <= Self.maximumBody else { return try await Self.reply(.payloadTooLarge, head, outbound) }
                }
                let networks = listeners.withLock { $0[namespace]?.networks ?? [] }
                if let source, let instance = instance(at: source, on: networks) {
                    do {
                        try await forward(head, body, instance: instance, source: source, to: outbound)
                    } catch {
                        logger.warning("metadata service unreachable", metadata: ["error": "\(error)"])
                        try await Self.reply(.badGateway, head, outbound)
                    }
                } else {
                    try await Self.reply(.notFound, head, outbound)
                }
                guard head.isKeepAlive else { return }
            }
        }
    }

    /// The request to the metadata service, with the instance signed, and its answer back.
    private func forward(_ head: HTTPRequestHead, _ body: ByteBuffer, instance: String, source: String,
                         to guest: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let service = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: upstream.host, port: upstream.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        var request = HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)
        for name in ["connection", "keep-alive", "transfer-encoding", "content-length", "x-instance-id", "x-instance-id-signature",
                     "x-forwarded-for", "x-tenant-id"] {
            request.headers.remove(name: name)
        }
        // The body whole, with its length: the service may answer and close before a chunked end.
        request.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        request.headers.add(name: "X-Instance-ID", value: instance)
        request.headers.add(name: "X-Instance-ID-Signature", value: signature(instance))
        request.headers.add(name: "X-Forwarded-For", value: source)
        request.headers.add(name: "Connection", value: "close")
        try await service.executeThenClose { inbound, outbound in
            try await outbound.write(.head(request))
            if body.readableBytes > 0 { try await outbound.write(.body(.byteBuffer(body))) }
            try await outbound.write(.end(nil))
            for try await part in inbound {
                switch part {
                case .head(var response):
                    response.version = head.version
                    response.headers.remove(name: "connection")
                    response.headers.remove(name: "keep-alive")
                    try await guest.write(.head(response))
                case .body(let chunk):
                    try await guest.write(.body(.byteBuffer(chunk)))
                case .end(let trailers):
                    return try await guest.write(.end(trailers))
                }
            }
            throw DriverError.transient("the metadata service closed the connection mid-answer")
        }
    }

    func signature(_ instance: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(instance.utf8), using: SymmetricKey(data: Data(upstream.secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    private static func reply(_ status: HTTPResponseStatus, _ request: HTTPRequestHead,
                              _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let text = ByteBuffer(string: "\(status.code) \(status.reasonPhrase)\n")
        var head = HTTPResponseHead(version: request.version, status: status)
        head.headers.add(name: "Content-Type", value: "text/plain; charset=UTF-8")
        head.headers.add(name: "Content-Length", value: "\(text.readableBytes)")
        try await outbound.write(.head(head))
        try await outbound.write(.body(.byteBuffer(text)))
        try await outbound.write(.end(nil))
    }
}
