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

    /// Advisory locks are per database: two clouds in their own schemas of one database (as the
    /// tests and shared PostgreSQL servers run them) each lead their own loops at the same time.
    @Test(arguments: TestBackend.available)
    func cloudsInSeparateSchemasLeadAtOnce(_ backend: TestBackend) async throws {
        let one = try await TestDatabase.make(backend), other = try await TestDatabase.make(backend)
        defer { Task { await one.close(); await other.close() } }
        let leading = Shared(0), peak = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for database in [one.database, other.database] {
                group.addTask {
                    try await DatabaseLeadership(database: database, retryInterval: .milliseconds(50)).lead("conductor") {
                        let now = leading.withLock { $0 += 1; return $0 }
                        peak.withLock { $0 = max($0, now) }
                        for _ in 0..<100 where peak.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(10)) }
                        leading.withLock { $0 -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(peak.withLock { $0 } == 2, "one schema's leader waited for the other's")
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
