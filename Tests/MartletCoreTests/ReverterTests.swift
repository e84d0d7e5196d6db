import MartletCore
import Synchronization
import Testing

@Suite struct ReverterTests {
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }
    struct StepFailed: Error {}

    @Test func aFailedStepUndoesTheCompletedOnesInReverse() async throws {
        let log = Log()
        await #expect(throws: StepFailed.self) {
            try await withReverter { reverter in
                for step in ["tap", "bridge port", "disk"] {
                    log.add("make \(step)")
                    reverter.onFailure(step) { log.add("undo \(step)") }
                }
                throw StepFailed()
            }
        }
        #expect(log.all == ["make tap", "make bridge port", "make disk", "undo disk", "undo bridge port", "undo tap"])
    }

    @Test func aFailingUndoDoesNotStopTheOthers() async throws {
        let log = Log()
        await #expect(throws: StepFailed.self) {
            try await withReverter { reverter in
                reverter.onFailure("first") { log.add("undo first") }
                reverter.onFailure("second") { throw StepFailed() }
                reverter.onFailure("third") { log.add("undo third") }
                throw StepFailed()
            }
        }
        #expect(log.all == ["undo third", "undo first"])
    }

    @Test func successKeepsEverything() async throws {
        let log = Log()
        let result = try await withReverter { reverter in
            reverter.onFailure("tap") { log.add("undo tap") }
            return 42
        }
        #expect(result == 42 && log.all.isEmpty)
    }

    @Test func aCancelledCallerStillCleansUp() async throws {
        let log = Log()
        let task = Task {
            try await withReverter { reverter in
                reverter.onFailure("namespace") {
                    // The undo itself may wait (a subprocess): cancellation of the caller must not cut it short.
                    try await Task.sleep(for: .milliseconds(20))
                    log.add("undo namespace")
                }
                try await Task.sleep(for: .seconds(60))
            }
        }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        _ = await task.result
        #expect(log.all == ["undo namespace"])
    }
}
