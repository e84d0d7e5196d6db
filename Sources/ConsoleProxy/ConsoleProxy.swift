import DriverKit
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// The console proxy's listener (Nova's novncproxy and serialproxy in one): it serves the noVNC
/// page from Debian's `novnc` package, and turns a websocket that brings a console token into a
/// connection to that server's console. A bad, spent or expired token, or a page from another
/// site, gets its connection closed without a byte of data.
public struct ConsoleProxy: Sendable {
    /// Spends a token: the console it opens, or nil.
    public typealias Opener = @Sendable (_ token: String) async -> ConsoleEndpoint?

    let novncPath: String
    let publicURL: URL?
    let open: Opener
    let logger: Logger

    public init(novncPath: String, publicURL: String?, logger: Logger, open: @escaping Opener) {
        self.novncPath = novncPath
        self.publicURL = publicURL.flatMap(URL.init(string:))
        self.open = open
        self.logger = logger
    }

    public func application(_ configuration: ApplicationConfiguration, onServerRunning: @escaping @Sendable (any Channel) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: FileMiddleware(novncPath, searchForIndexHtml: false, logger: logger))
        let proxy = self
        return Application(
            router: router,
            // Large messages: a screen update can be hundreds of kilobytes.
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 20))) { request, channel, _ in
                await proxy.upgrade(ConsoleRequest(request: request), channel: channel)
            },
            configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }

    private func upgrade(_ request: ConsoleRequest, channel: any Channel) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        var endpoint: ConsoleEndpoint?
        if request.originAllowed(publicURL: publicURL), let token = request.token {
            endpoint = await open(token)
        }
        let headers: HTTPFields = request.wantsBinary ? [.secWebSocketProtocol: "binary"] : [:]
        guard let endpoint else {
            // Closing the connection, not the websocket: a close frame would carry data.
            return .upgrade(headers) { _, _, _ in try await channel.close() }
        }
        let logger = self.logger
        return .upgrade(headers) { inbound, outbound, _ in
            do {
                try await ConsoleBridge.run(endpoint, inbound: inbound, outbound: outbound)
            } catch {
                logger.info("console connection ended", metadata: ["error": "\(error)"])
                try await channel.close()
            }
        }
    }
}
