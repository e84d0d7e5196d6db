import Logging
import Synchronization

/// Undoes the completed steps of a multi-step side effect (a tap, then a bridge port, then a disk
/// file…) in reverse order when a later step fails, so a failure leaves nothing half-made. Each
/// step registers its undo right after it succeeds.
public final class Reverter: Sendable {
    public typealias Undo = @Sendable () async throws -> Void
    private let undos = Mutex<[(name: String, undo: Undo)]>([])
    let logger: Logger?

    public init(logger: Logger? = nil) { self.logger = logger }

    /// Registers how to undo a step that just succeeded.
    public func onFailure(_ name: String, undo: @escaping Undo) {
        undos.withLock { $0.append((name, undo)) }
    }

    /// Runs every undo, newest first; an undo that fails is logged and the others still run. It
    /// runs in a task of its own, so a cancelled caller still cleans up.
    public func revert() async {
        let steps = undos.withLock { all -> [(name: String, undo: Undo)] in
            defer { all.removeAll() }
            return all.reversed()
        }
        let logger = logger
        await Task {
            for step in steps {
                do { try await step.undo() } catch {
                    logger?.error("could not undo \(step.name)", metadata: ["error": "\(error)"])
                }
            }
        }.value
    }
}

/// Runs `body`; if it throws (or is cancelled), the steps it registered are undone before the error
/// goes on.
public func withReverter<T>(logger: Logger? = nil, _ body: (Reverter) async throws -> T) async throws -> T {
    let reverter = Reverter(logger: logger)
    do {
        return try await body(reverter)
    } catch {
        await reverter.revert()
        throw error
    }
}
