import Logging
import Synchronization

/// Runs the conductor's work in the background, one run at a time per server: a server asked to
/// converge while it is already converging runs once more afterwards, so no request is lost.
final class Conductor: Sendable {
    private struct State {
        var running: Set<String> = []
        var again: Set<String> = []
    }
    private let state = Mutex(State())
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func converge(_ id: String, _ service: ComputeService) {
        let start = state.withLock { s -> Bool in
            if s.running.contains(id) { s.again.insert(id); return false }
            s.running.insert(id)
            return true
        }
        guard start else { return }
        Task {
            while true {
                await Workflows(service: service).converge(id)
                let more = state.withLock { s -> Bool in
                    if s.again.remove(id) != nil { return true }
                    s.running.remove(id)
                    return false
                }
                if !more { break }
            }
        }
    }

    func idle() async {
        while state.withLock({ !$0.running.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
