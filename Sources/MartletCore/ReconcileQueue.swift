import Logging
import ServiceLifecycle
import Synchronization

/// Level-triggered work on keys (a server, a port): `enqueue` says "look at this again", and the
/// queue calls `reconcile` until it succeeds. A key is queued once however often it is enqueued,
/// never runs twice at once (enqueued while running, it runs once more afterwards), and after a
/// failure is retried with its own exponential backoff. `resync` lists every key now and then,
/// so what no event mentioned converges too. It runs as a service: before `run` starts, keys wait.
public final class ReconcileQueue<Key: Hashable & Sendable, C: Clock>: Service, Sendable where C.Duration == Duration {
    public typealias Reconcile = @Sendable (Key) async throws -> Void

    public struct Backoff: Sendable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(60)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The wait before the next try after `failures` failures in a row: doubling, capped.
        public func delay(after failures: Int) -> Duration {
            var delay = initial
            for _ in 1..<max(failures, 1) {
                delay *= 2
                if delay >= maximum { return maximum }
            }
            return min(delay, maximum)
        }
    }

    private struct State {
        var ready: [Key] = []
        var queued: Set<Key> = []
        var running: Set<Key> = []
        /// Enqueued while running: run once more when done.
        var again: Set<Key> = []
        var failures: [Key: Int] = [:]
        var retryAt: [Key: C.Instant] = [:]
        var wake: AsyncStream<Void>.Continuation?

        mutating func add(_ key: Key) {
            if running.contains(key) { again.insert(key); return }
            retryAt.removeValue(forKey: key)
            if queued.insert(key).inserted { ready.append(key) }
        }

        var isIdle: Bool { ready.isEmpty && running.isEmpty && retryAt.isEmpty && again.isEmpty }
    }

    public let name: String
    let clock: C
    let concurrency: Int
    let backoff: Backoff
    let resyncInterval: Duration?
    let resync: (@Sendable () async throws -> [Key])?
    let leadership: (any Leadership)?
    let reconcile: Reconcile
    let logger: Logger
    private let state = Mutex(State())

    /// - Parameters:
    ///   - concurrency: keys reconciled at once.
    ///   - resyncInterval, resync: how often, and how, to list every key (nil: never).
    ///   - leadership: held while the queue works, so one process of several sharing a database runs it.
    public init(name: String, clock: C, concurrency: Int = 16, backoff: Backoff = Backoff(), resyncInterval: Duration? = nil,
                resync: (@Sendable () async throws -> [Key])? = nil, leadership: (any Leadership)? = nil, logger: Logger,
                reconcile: @escaping Reconcile) {
        self.name = name
        self.clock = clock
        self.concurrency = max(concurrency, 1)
        self.backoff = backoff
        self.resyncInterval = resyncInterval
        self.resync = resync
        self.leadership = leadership
        self.logger = logger
        self.reconcile = reconcile
    }

    public func enqueue(_ key: Key) { enqueue([key]) }

    public func enqueue(_ keys: some Sequence<Key>) {
        let wake = state.withLock { s in
            for key in keys { s.add(key) }
            return s.wake
        }
        wake?.yield()
    }

    /// Failures in a row of a key now (0 once it succeeded).
    public func failures(of key: Key) -> Int { state.withLock { $0.failures[key] ?? 0 } }

    /// Waits until nothing is queued, running or waiting to be retried.
    public func idle() async {
        while !state.withLock({ $0.isIdle }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    public func run() async throws {
        if let leadership {
            try await leadership.lead(name) { try await self.work() }
        } else {
            try await work()
        }
    }

    private func work() async throws {
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.wake = wake }
        defer { state.withLock { $0.wake = nil } }
        wake.yield()
        let resyncer = Task { await resyncForever() }
        var timer: Task<Void, Never>?
        defer {
            resyncer.cancel()
            timer?.cancel()
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await _ in wakes {
                    let (starts, nextRetry) = takeReady()
                    for key in starts { group.addTask { await self.process(key) } }
                    timer?.cancel()
                    if let nextRetry {
                        timer = Task { [clock] in
                            try? await clock.sleep(until: nextRetry, tolerance: nil)
                            wake.yield()
                        }
                    }
                }
                // Shutting down: the keys already running finish (every step is idempotent, but a finished one is tidier).
            }
        } onGracefulShutdown: {
            wake.finish()
        }
    }

    /// Moves due retries to the ready list and takes what may start; the next retry's time.
    private func takeReady() -> ([Key], C.Instant?) {
        let now = clock.now
        return state.withLock { s in
            for (key, at) in s.retryAt where at <= now {
                s.retryAt.removeValue(forKey: key)
                if s.queued.insert(key).inserted { s.ready.append(key) }
            }
            var starts: [Key] = []
            while s.running.count < concurrency, !s.ready.isEmpty {
                let key = s.ready.removeFirst()
                s.queued.remove(key)
                s.running.insert(key)
                starts.append(key)
            }
            return (starts, s.retryAt.values.min())
        }
    }

    private func process(_ key: Key) async {
        var failed: (any Error)?
        do { try await reconcile(key) } catch { failed = error }
        let now = clock.now
        let (wake, failures) = state.withLock { s -> (AsyncStream<Void>.Continuation?, Int) in
            s.running.remove(key)
            var failures = 0
            if failed == nil {
                s.failures.removeValue(forKey: key)
            } else {
                failures = (s.failures[key] ?? 0) + 1
                s.failures[key] = failures
            }
            if s.again.remove(key) != nil {
                s.add(key)
            } else if failed != nil {
                s.retryAt[key] = now.advanced(by: backoff.delay(after: failures))
            }
            return (s.wake, failures)
        }
        // A run cut short by shutdown is not a failure worth a warning: it is repeated after the restart.
        if let failed, !(failed is CancellationError) {
            logger.warning("\(name): \(key) failed; retrying", metadata: ["failures": "\(failures)", "error": "\(failed)",
                                                                           "retry_in": "\(backoff.delay(after: failures))"])
        }
        wake?.yield()
    }

    private func resyncForever() async {
        guard let resyncInterval, let resync else { return }
        while !Task.isCancelled {
            do {
                enqueue(try await resync())
            } catch {
                logger.error("\(name): resync failed", metadata: ["error": "\(error)"])
            }
            do { try await clock.sleep(for: resyncInterval) } catch { return }
        }
    }
}

extension ReconcileQueue where C == ContinuousClock {
    public convenience init(name: String, concurrency: Int = 16, backoff: Backoff = Backoff(), resyncInterval: Duration? = nil,
                            resync: (@Sendable () async throws -> [Key])? = nil, leadership: (any Leadership)? = nil,
                            logger: Logger, reconcile: @escaping Reconcile) {
        self.init(name: name, clock: ContinuousClock(), concurrency: concurrency, backoff: backoff, resyncInterval: resyncInterval,
                  resync: resync, leadership: leadership, logger: logger, reconcile: reconcile)
    }
}

/// Who runs a singleton loop when several `martlet serve` processes share one database.
public protocol Leadership: Sendable {
    /// Runs `body` while this process leads `name` (waiting until it does); if leadership is lost,
    /// `body` is cancelled and leading is tried again.
    func lead(_ name: String, _ body: @escaping @Sendable () async throws -> Void) async throws
}
