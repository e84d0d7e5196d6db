import Foundation
import Synchronization

/// Values worked out from the database (validated tokens, the catalog), kept until any identity
/// write in this process, or for `ttl` — the bound on how long a change made by another process
/// sharing the database (a revocation, say) can go unseen here.
final class ValidationCache<Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let generation: UInt64
        let storedAt: ContinuousClock.Instant
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let ttl: Duration
    private let capacity: Int

    init(ttl: Duration, capacity: Int = 10_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    func value(_ key: String, generation: UInt64) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.generation == generation, ContinuousClock.now - entry.storedAt < ttl else {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Stores a value read when the counter stood at `generation` (read before the database was).
    func store(_ value: Value, for key: String, generation: UInt64) {
        guard ttl > .zero else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(value: value, generation: generation, storedAt: .now)
        }
    }
}
