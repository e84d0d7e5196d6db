import Logging
import MartletCore
import MartletStore
import Synchronization

/// Runs the workflows on the reconcile queue, keyed by server: a server asked to converge while it
/// converges runs once more afterwards, a step that fails for a while (a host that is briefly
/// unreachable) is retried with backoff, and every server with unfinished work is looked at again
/// periodically, so nothing waits for a restart to move on.
final class Conductor: Sendable {
    let queue: ReconcileQueue<String, ContinuousClock>
    private let owner: Owner

    /// The service the workflows act for, held weakly: the service owns its conductor.
    private final class Owner: Sendable {
        private let service = Mutex<Weak?>(nil)
        struct Weak: @unchecked Sendable { weak var value: ComputeService? }

        func set(_ compute: ComputeService) { service.withLock { $0 = Weak(value: compute) } }
        var value: ComputeService? { service.withLock { $0?.value } }
    }

    init(database: Database, logger: Logger, resyncInterval: Duration = .seconds(60)) {
        let owner = Owner()
        self.owner = owner
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

    func attach(_ service: ComputeService) { owner.set(service) }

    func converge(_ id: String) { queue.enqueue(id) }

    func idle() async { await queue.idle() }
}
