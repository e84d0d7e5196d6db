import Logging
import MartletCore
import Synchronization
import Testing

@Suite struct ReconcileQueueTests {
    /// What the reconcile function saw, and a switch to make it fail.
    final class Recorder: Sendable {
        let calls = Mutex<[String]>([])
        let failuresLeft = Mutex<[String: Int]>([:])

        func reconcile(_ key: String) throws {
            calls.withLock { $0.append(key) }
            try failuresLeft.withLock { left in
                if let n = left[key], n > 0 {
                    left[key] = n - 1
                    throw Failure()
                }
            }
        }
        func count(_ key: String) -> Int { calls.withLock { $0.filter { $0 == key }.count } }
    }
    struct Failure: Error {}

    /// Waits (in real time, briefly) for a condition the queue's tasks make true.
    func eventually(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<400 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("timed out waiting for \(what)")
        throw Failure()
    }

    @Test func aKeyEnqueuedManyTimesRunsOnce() async throws {
        let recorder = Recorder()
        let queue = ReconcileQueue<String, ContinuousClock>(name: "test", logger: Logger(label: "test")) { try recorder.reconcile($0) }
        for _ in 0..<100 { queue.enqueue("a") }
        queue.enqueue(["b", "a", "b"])
        let running = Task { try await queue.run() }
        await queue.idle()
        running.cancel()
        #expect(recorder.count("a") == 1)
        #expect(recorder.count("b") == 1)
    }

    @Test func aFailingKeyIsRetriedWithGrowingBackoffAndConverges() async throws {
        let clock = ManualClock()
        let recorder = Recorder()
        recorder.failuresLeft.withLock { $0["port"] = 3 }
        let queue = ReconcileQueue<String, ManualClock>(name: "test", clock: clock, backoff: .init(initial: .seconds(1), maximum: .seconds(3)),
                                                        logger: Logger(label: "test")) { try recorder.reconcile($0) }
        let running = Task { try await queue.run() }
        defer { running.cancel() }
        queue.enqueue("port")
        try await eventually("the first try") { recorder.count("port") == 1 && clock.sleeping == 1 }
        #expect(queue.failures(of: "port") == 1)
        // Not before the backoff: 1 s, then 2 s, then 3 s (the cap, not 4 s).
        for (wait, tries) in [(Duration.seconds(1), 2), (.seconds(2), 3), (.seconds(3), 4)] {
            clock.advance(by: wait - .milliseconds(1))
            try await Task.sleep(for: .milliseconds(30))
            #expect(recorder.count("port") == tries - 1, "retried before its backoff of \(wait)")
            clock.advance(by: .milliseconds(1))
            try await eventually("try \(tries)") { recorder.count("port") == tries }
            if tries < 4 { try await eventually("the next timer") { clock.sleeping == 1 } }
        }
        await queue.idle()
        #expect(queue.failures(of: "port") == 0)
        clock.advance(by: .seconds(60))
        try await Task.sleep(for: .milliseconds(30))
        #expect(recorder.count("port") == 4, "a key that converged ran again")
    }

    @Test func anEventDuringARunRunsItOnceMore() async throws {
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let calls = Mutex(0)
        let queue = ReconcileQueue<String, ContinuousClock>(name: "test", logger: Logger(label: "test")) { _ in
            let n = calls.withLock { $0 += 1; return $0 }
            if n == 1 { await withCheckedContinuation { c in gate.withLock { $0 = c } } }
        }
        let running = Task { try await queue.run() }
        defer { running.cancel() }
        queue.enqueue("server")
        try await eventually("the first run to block") { gate.withLock { $0 != nil } }
        queue.enqueue("server")
        queue.enqueue("server")
        #expect(calls.withLock { $0 } == 1, "the same key ran twice at once")
        gate.withLock { $0?.resume() }
        await queue.idle()
        #expect(calls.withLock { $0 } == 2)
    }

    @Test func resyncLooksAtEveryKeyPeriodically() async throws {
        let clock = ManualClock()
        let recorder = Recorder()
        let queue = ReconcileQueue<String, ManualClock>(name: "test", clock: clock, resyncInterval: .seconds(10), resync: { ["x", "y"] },
                                                        logger: Logger(label: "test")) { try recorder.reconcile($0) }
        let running = Task { try await queue.run() }
        defer { running.cancel() }
        try await eventually("the first resync") { recorder.count("x") == 1 && recorder.count("y") == 1 && clock.sleeping == 1 }
        clock.advance(by: .seconds(10))
        try await eventually("the second resync") { recorder.count("x") == 2 && recorder.count("y") == 2 }
    }

    @Test func backoffDoublesUpToItsCap() {
        let backoff = ReconcileQueue<String, ContinuousClock>.Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect((1...6).map { backoff.delay(after: $0) } == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                                                            .seconds(1), .seconds(1)])
    }
}
