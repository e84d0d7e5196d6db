import DriverKit
import Foundation
import Logging
import MartletCore
import MartletStore

/// Keeps what the database says of settled servers in step with what their hosts see, as Nova's
/// `_sync_power_states` does: a guest that powered itself off, or whose qemu died, becomes
/// SHUTDOWN (a death also leaves a fault); a server that runs while it should be stopped is
/// stopped. Servers with a task in flight are the conductor's, and are left alone. Each round also
/// removes from the hosts what belongs to no server.
final class PowerSync: Sendable {
    let queue: ReconcileQueue<String, ContinuousClock>

    init(database: Database, logger: Logger, interval: Duration, owner: ServiceReference) {
        queue = ReconcileQueue(
            name: "power-sync", concurrency: 16, backoff: .init(initial: .seconds(1), maximum: .seconds(60)),
            resyncInterval: interval,
            resync: {
                guard let service = owner.value else { return [] }
                try await service.removeLeftovers()
                return try await service.settledServers()
            },
            leadership: DatabaseLeadership(database: database), logger: logger
        ) { id in
            guard let service = owner.value else { return }
            try await Self.sync(id, service)
        }
    }

    static func sync(_ id: String, _ service: ComputeService) async throws {
        guard let server = try await service.servers.get(id), server.taskState == nil, let host = server.host,
              [.active, .stopped].contains(server.vmState) else { return }
        // Gone from the host is the conductor's to repair (it spawns the server again), not a power change.
        guard let seen = await service.hypervisor.powerState(id, host: host) else { return }
        switch (server.vmState, seen) {
        case (.active, .shutdown), (.active, .crashed):
            let died = seen == .crashed
            service.logger.warning("server stopped outside the API", metadata: ["server": "\(id)", "power_state": "\(seen)"])
            // Recorded as Nova records it, a `stop` action of the server's own, which `server event list` shows.
            let message = died ? "The server's hypervisor process ended unexpectedly." : nil
            try await service.db.transaction { db in
                guard var s = try await service.servers.get(id, in: db), s.taskState == nil, s.vmState == .active else { return }
                s.vmState = .stopped
                s.powerState = .shutdown
                if let message { s.fault = Fault(code: 500, message: message, details: nil, created: Date().timeIntervalSince1970) }
                try await service.servers.update(s, in: db)
                try await service.actions.start("stop", server: id, requestID: "req-" + Identifier.uuid(), userID: s.userID,
                                                projectID: s.projectID, in: db)
                try await service.actions.finish(server: id, host: host, error: message, in: db)
            }
        case (.stopped, .running), (.stopped, .paused):
            try await service.hypervisor.setPower(id, host: host, .stop)
        default:
            return
        }
    }
}
