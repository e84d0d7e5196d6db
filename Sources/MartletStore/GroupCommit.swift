import Synchronization

/// Group commit: requests that arrive while a batch runs wait and run together as the next batch, so
/// a burst of writes shares one transaction (see `Database.transaction(each:)`) instead of queueing
/// for the one database writer.
public final class GroupCommit<Request: Sendable, Output: Sendable>: Sendable {
    public typealias Batch = @Sendable ([Request]) async -> [Result<Output, any Error>]
    private struct Waiting: Sendable {
        let request: Request
        let continuation: CheckedContinuation<Output, any Error>
    }
    private struct State: Sendable {
        var waiting: [Waiting] = []
        var running = false
    }
    private let state = Mutex(State())

    public init() {}

    /// Runs `request` in the next batch; the caller that finds no batch running runs them all with `batch`
    /// (every caller passes the same one), which answers each request in order.
    public func submit(_ request: Request, batch: @escaping Batch) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let lead = state.withLock { s -> Bool in
                s.waiting.append(Waiting(request: request, continuation: continuation))
                if s.running { return false }
                s.running = true
                return true
            }
            if lead { Task { await drain(batch) } }
        }
    }

    private func drain(_ batch: Batch) async {
        while true {
            let next = state.withLock { s -> [Waiting] in
                let taken = s.waiting
                s.waiting = []
                if taken.isEmpty { s.running = false }
                return taken
            }
            if next.isEmpty { return }
            let results = await batch(next.map(\.request))
            for (waiting, result) in zip(next, results) { waiting.continuation.resume(with: result) }
        }
    }
}
