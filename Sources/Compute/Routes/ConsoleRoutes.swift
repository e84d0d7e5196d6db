import DriverKit
import Foundation
import Hummingbird
import MartletCore
import Synchronization

/// Remote consoles: `POST /servers/{id}/remote-consoles` (2.6; the `os-get*Console` actions before it)
/// hands out a URL with a one-time token that `os-console-auth-tokens` resolves for a console proxy.
/// Tokens live `console_token_ttl` seconds, in memory; the console proxy spends each on one connection.
struct ConsoleRoutes {
    let service: ComputeService

    /// Protocol → the types it offers, and the microversion each type needs.
    static let types: [String: [String: Microversion]] = [
        "vnc": ["novnc": Microversion(2, 6), "xvpvnc": Microversion(2, 6)],
        "spice": ["spice-html5": Microversion(2, 6), "spice-direct": Microversion(2, 99)],
        "rdp": ["rdp-html5": Microversion(2, 6)], "serial": ["serial": Microversion(2, 6)], "mks": ["webmks": Microversion(2, 8)],
    ]

    func register(_ r: PolicyRouter) {
        r.post("/v2.1/servers/:server_id/remote-consoles", rule: "os_compute_api:os-remote-consoles", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let v = service.version(call)
            guard v >= Microversion(2, 6) else { throw APIError.notFound("The resource could not be found.") }
            let f = try JSONFields.body(try await call.body(), wrapper: "remote_console")
            let proto = try f.requiredString("protocol"), type = try f.requiredString("type")
            guard let since = Self.types[proto]?[type], v >= since else {
                throw APIError.badRequest("Invalid input for field/attribute remote_console: protocol \(proto) with type \(type) is not supported.")
            }
            let url = try await issue(server, type: type)
            return .json(.ok, ["remote_console": ["protocol": .string(proto), "type": .string(type), "url": .string(url)]])
        }
        r.get("/v2.1/os-console-auth-tokens/:token", rule: "os_compute_api:os-console-auth-tokens") { call in
            let token = try call.param("token")
            guard let console = service.consoles.lookup(token) else { throw APIError.notFound("The token is not valid or has expired.") }
            var body: [String: JSON] = ["instance_uuid": .string(console.serverID), "host": "127.0.0.1", "port": 5900,
                                        "internal_access_path": nil]
            if service.version(call) >= Microversion(2, 99) { body["tls_port"] = .null }
            return .json(.ok, ["console": .object(body)])
        }
    }

    /// The legacy `os-getVNCConsole`-style actions (before 2.6 they are the only way).
    func legacy(_ server: Server, type: String) async throws -> JSON {
        let url = try await issue(server, type: type)
        return ["console": ["type": .string(type), "url": .string(url)]]
    }

    /// Asks the server's host for the console first, so a URL is handed out only for a console that exists.
    private func issue(_ server: Server, type: String) async throws -> String {
        guard server.vmState == .active, let host = server.host else {
            throw APIError.conflict("Instance \(server.id) is not ready for a console (vm_state \(server.vmState.rawValue)).")
        }
        guard let base = service.consoleURL else { throw APIError.badRequest("Unavailable console type \(type).") }
        do {
            _ = try await service.hypervisor.console(server.id, host: host, type: type)
        } catch DriverError.unsupported {
            throw APIError.badRequest("Unavailable console type \(type).")
        }
        let token = service.consoles.issue(serverID: server.id, type: type)
        switch type {
        // noVNC's page takes the websocket's path (with the token) as its `path` parameter.
        case "novnc": return "\(base)/vnc_lite.html?path=%3Ftoken%3D\(token)"
        case "serial": return "\(base.replacingOccurrences(of: "http", with: "ws", options: .anchored))/?token=\(token)"
        default: return "\(base)/?token=\(token)"
        }
    }
}

extension ComputeService {
    /// Spends a console token (each opens one connection): where the console proxy connects, or
    /// nil when the token is unknown, spent or expired, or the server has no console to reach.
    public func openConsole(token: String) async -> ConsoleEndpoint? {
        guard let console = consoles.spend(token) else { return nil }
        do {
            guard let server = try await servers.get(console.serverID), server.vmState == .active, let host = server.host else { return nil }
            return try await hypervisor.console(server.id, host: host, type: console.type)
        } catch {
            logger.warning("console not reachable", metadata: ["server_id": "\(console.serverID)", "error": "\(error)"])
            return nil
        }
    }
}

/// The console tokens handed out, each good for one connection until it expires.
final class ConsoleTokens: Sendable {
    struct Console: Sendable { let serverID: String; let type: String; let expires: Date }
    private let tokens = Mutex<[String: Console]>([:])
    let lifetime: TimeInterval

    init(lifetime: TimeInterval) { self.lifetime = lifetime }

    func issue(serverID: String, type: String) -> String {
        let token = Identifier.uuid()
        tokens.withLock { all in
            all = all.filter { $0.value.expires > Date() }
            all[token] = Console(serverID: serverID, type: type, expires: Date().addingTimeInterval(lifetime))
        }
        return token
    }

    func lookup(_ token: String) -> Console? {
        tokens.withLock { $0[token].flatMap { $0.expires > Date() ? $0 : nil } }
    }

    /// The token's console, once: the token is gone after.
    func spend(_ token: String) -> Console? {
        tokens.withLock { $0.removeValue(forKey: token).flatMap { $0.expires > Date() ? $0 : nil } }
    }
}
