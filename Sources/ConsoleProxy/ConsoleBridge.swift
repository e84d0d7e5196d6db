import DriverKit
import HummingbirdWebSocket
import NIOCore
import NIOPosix

/// Carries bytes both ways between a console websocket and the console's socket on the host,
/// each read from the host as one binary message, until either side ends.
enum ConsoleBridge {
    static func run(_ endpoint: ConsoleEndpoint, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let console = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: endpoint.unixSocket) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await console.executeThenClose { fromConsole, toConsole in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await bytes in fromConsole { try await outbound.write(.binary(bytes)) }
                }
                group.addTask {
                    for try await frame in inbound { try await toConsole.write(frame.data) }
                }
                // Whichever side ends first ends the other.
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
