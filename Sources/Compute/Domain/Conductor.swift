import Logging
import MartletCore
import MartletStore

/// Runs the workflows on the reconcile queue, keyed by server: a server asked to converge while it
/// converges runs once more afterwards, a step that fails for a while (a host that is briefly
/// unreachable) is retried with backoff, and every server with unfinished work is looked at again
/// periodically, so nothing waits for a restart to move on.
final class Conductor: Sendable {
    let queue: ReconcileQueue<String, ContinuousClock>

    init(database: Database, logger: Logger, owner: ServiceReference, resyncInterval: Duration = .seconds(60)) {
        queue = ReconcileQueue(
            name: "conductor", concurrency: 256, backoff: .init(initial: .seconds(1), maximum: .seconds(60)),
            resyncInterval: resyncInterval,
            resync: { try await owner.value?.unfinishedServers() ?? [] },
            leadership: DatabaseLeadership(database: database), logger: logger
        ) { id in
            guard let service = owner.value else { return }
            try await Workflows(service: service).converge(id)
        }
    }

    func converge(_ id: String) { queue.enqueue(id) }

    func idle() async { await queue.idle() }
}
