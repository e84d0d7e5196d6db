import Foundation
import Logging
import MartletCore
import MartletStore
import MartletTestSupport
import Synchronization
import Testing

@Suite struct LeadershipTests {
    /// Two processes sharing a database: one leads a loop, the other waits and takes over when the
    /// first stops. SQLite has a single process per database, so there it always leads at once.
    @Test(arguments: TestBackend.available)
    func oneProcessLeadsALoopAndAnotherTakesOver(_ backend: TestBackend) async throws {
        let first = try await TestDatabase.make(backend)
        defer { Task { await first.close() } }
        let second = backend == .postgres
            ? try Database.open(url: first.url, dataDir: first.dataDir, logger: Logger(label: "test")) : first.database
        let name = "test-\(UUID().uuidString)"
        let leaders = Shared<[String]>([])
        let firstMayStop = Shared(false)

        let a = Task {
            try await DatabaseLeadership(database: first.database, retryInterval: .milliseconds(50)).lead(name) {
                leaders.withLock { $0.append("a") }
                while !firstMayStop.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            }
        }
        try await waitFor { leaders.withLock { $0 == ["a"] } }
        let b = Task {
            try await DatabaseLeadership(database: second, retryInterval: .milliseconds(50)).lead(name) {
                leaders.withLock { $0.append("b") }
            }
        }
        if backend == .postgres {
            try await Task.sleep(for: .milliseconds(300))
            #expect(leaders.withLock { $0 } == ["a"], "two processes led at once")
        }
        firstMayStop.withLock { $0 = true }
        try await a.value
        try await b.value
        #expect(leaders.withLock { $0 } == ["a", "b"])
        if backend == .postgres { await second.shutdown() }
    }

    final class Shared<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        func withLock<T>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
    }

    func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition())
    }
}
