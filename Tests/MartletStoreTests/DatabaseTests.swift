import Foundation
import MartletCore
import MartletStore
import MartletTestSupport
import SQLKit
import Testing

@Suite struct DatabaseTests {
    static let v1 = Migration("test-0001", ["CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, enabled BOOLEAN NOT NULL)"])
    static let v2 = Migration("test-0002", ["ALTER TABLE widgets ADD COLUMN size DOUBLE PRECISION", "CREATE INDEX widgets_size ON widgets (size)"])

    @Test(arguments: TestBackend.available)
    func migrationsApplyOnceAndUpgradeInPlace(_ backend: TestBackend) async throws {
        let t = try await TestDatabase.make(backend)
        defer { Task { await t.close() } }
        #expect(try await t.database.migrate([Self.v1]) == ["test-0001"])
        try await t.database.transaction { db in
            try await db.raw("INSERT INTO widgets (id, name, enabled) VALUES ('a', 'first', \(bind: true))").run()
        }
        // A database from the older version upgrades in place and keeps its rows.
        #expect(try await t.database.migrate([Self.v1, Self.v2]) == ["test-0002"])
        #expect(try await t.database.migrate([Self.v1, Self.v2]) == [])
        let row = try await t.database.read { try await $0.raw("SELECT name, enabled, size FROM widgets WHERE id = 'a'").first() }
        #expect(try row?.decode(column: "name", as: String.self) == "first")
        #expect(try row?.decode(column: "enabled", as: Bool.self) == true)
        #expect(try row?.decode(column: "size", as: Double?.self) == nil)
        #expect(try await t.database.appliedMigrations() == ["test-0001", "test-0002"])
    }

    /// Every file thread stuck on the disk (as by the fsyncs of a large volume write) holds up no
    /// query: SQLite has threads of its own.
    @Test func queriesDoNotWaitBehindFileWork() async throws {
        let t = try await TestDatabase.make(.sqlite)
        defer { Task { await t.close() } }
        try await t.database.migrate([Self.v1])
        let release = DispatchSemaphore(value: 0), stuck = 16
        for _ in 0..<stuck { BlockingPools.files.submit { _ in release.wait() } }
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await t.database.transaction { try await $0.raw("INSERT INTO widgets (id, name, enabled) VALUES ('q', 'q', \(bind: true))").run() }
                return try await t.database.read { try await $0.raw("SELECT name FROM widgets").all() }.count == 1
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return false
            }
            let first = try await group.next() ?? false
            for _ in 0..<stuck { release.signal() }
            group.cancelAll()
            return first
        }
        #expect(answered, "a query waited for the file threads")
    }

    @Test(arguments: TestBackend.available)
    func failedTransactionLeavesNothing(_ backend: TestBackend) async throws {
        let t = try await TestDatabase.make(backend)
        defer { Task { await t.close() } }
        try await t.database.migrate([Self.v1])
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await t.database.transaction { db in
                try await db.raw("INSERT INTO widgets (id, name, enabled) VALUES ('b', 'second', \(bind: false))").run()
                throw Boom()
            }
        }
        let count = try await t.database.read { try await $0.raw("SELECT COUNT(*) AS n FROM widgets").first()?.decode(column: "n", as: Int.self) }
        #expect(count == 0)
    }

    /// A transaction that runs past its deadline is refused its next statement and rolled back; the
    /// writer is free again at once, and the health probe says when it is not.
    @Test(arguments: TestBackend.available)
    func longTransactionsAreCutOffAndUndone(_ backend: TestBackend) async throws {
        let t = try await TestDatabase.make(backend)
        defer { Task { await t.close() } }
        try await t.database.migrate([Self.v1])
        t.database.transactionTimeout = .milliseconds(500)
        var inserted = 0
        do {
            try await t.database.transaction { db in
                while true {
                    try await db.raw("INSERT INTO widgets (id, name, enabled) VALUES (\(bind: "w\(inserted)"), \(bind: "n\(inserted)"), \(bind: true))").run()
                    inserted += 1
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            Issue.record("an endless transaction ended")
        } catch let error as StoreError {
            #expect(error.apiError.status == .serviceUnavailable)
        }
        #expect(inserted >= 1, "the transaction wrote before its deadline")
        let count = try await t.database.read { try await $0.raw("SELECT COUNT(*) AS n FROM widgets").first()?.decode(column: "n", as: Int.self) }
        #expect(count == 0)
        #expect(try await Self.becomesWritable(t.database), "the writer is free again once the transaction is cut off")
        if backend == .sqlite {
            // A writer held (here by a transaction that waits without a statement) makes the probe say no.
            let holder = Task { try await t.database.transaction { _ in try await Task.sleep(for: .milliseconds(1500)) } }
            try await Task.sleep(for: .milliseconds(100))
            #expect(await t.database.canWrite(within: .milliseconds(300)) == false)
            _ = try? await holder.value
            // The earlier probe finishes behind it (on a loaded machine, not at once); then the answer is yes.
            #expect(try await Self.becomesWritable(t.database))
        }
    }

    /// Whether the write probe says yes within a few tries: on a loaded machine one probe (a new
    /// PostgreSQL connection, say) can take longer than its bound, and the next waits for it.
    static func becomesWritable(_ database: Database) async throws -> Bool {
        for _ in 0..<20 {
            if await database.canWrite(within: .seconds(2)) { return true }
            try await Task.sleep(for: .milliseconds(500))
        }
        return false
    }

    /// A batch where one item writes and then fails, and another hits a constraint: the others land,
    /// the failed ones leave no row, and only the successful items' changes to the shared state count.
    @Test(arguments: TestBackend.available)
    func batchedItemsFailAlone(_ backend: TestBackend) async throws {
        let t = try await TestDatabase.make(backend)
        defer { Task { await t.close() } }
        try await t.database.migrate([Self.v1])
        struct Boom: Error {}
        let items = ["a", "boom", "b", "dup", "c"]
        var seen: [String] = []
        let results = await t.database.transaction(each: items, prepare: { _ in [String]() }) { item, landed, db in
            let name = item == "dup" ? "a" : item
            try await db.raw("INSERT INTO widgets (id, name, enabled) VALUES (\(bind: item), \(bind: name), \(bind: true))").run()
            landed.append(item)
            if item == "boom" { throw Boom() }
            seen = landed
            return item.uppercased()
        }
        #expect(results.map { (try? $0.get()) ?? "failed" } == ["A", "failed", "B", "failed", "C"])
        #expect(seen == ["a", "b", "c"])
        let ids = try await t.database.read { db in
            try await db.raw("SELECT id FROM widgets ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
        }
        #expect(ids == ["a", "b", "c"])
    }

    @Test(arguments: TestBackend.available)
    func duplicatesAreRecognised(_ backend: TestBackend) async throws {
        let t = try await TestDatabase.make(backend)
        defer { Task { await t.close() } }
        try await t.database.migrate([Self.v1])
        try await t.database.transaction { try await $0.raw("INSERT INTO widgets (id, name, enabled) VALUES ('a', 'x', \(bind: true))").run() }
        do {
            try await t.database.transaction { try await $0.raw("INSERT INTO widgets (id, name, enabled) VALUES ('b', 'x', \(bind: true))").run() }
            Issue.record("a duplicate name was accepted")
        } catch {
            #expect(Database.isUniqueViolation(error))
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentWritersAllLand(_ backend: TestBackend) async throws {
        let t = try await TestDatabase.make(backend)
        defer { Task { await t.close() } }
        try await t.database.migrate([Self.v1])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    try await t.database.transaction { db in
                        try await db.raw("INSERT INTO widgets (id, name, enabled) VALUES (\(bind: "w\(i)"), \(bind: "n\(i)"), \(bind: true))").run()
                    }
                }
            }
            try await group.waitForAll()
        }
        let count = try await t.database.read { try await $0.raw("SELECT COUNT(*) AS n FROM widgets").first()?.decode(column: "n", as: Int.self) }
        #expect(count == 40)
    }

    @Test func rejectsUnknownDatabaseURLs() {
        #expect(throws: StoreError.self) {
            _ = try Database.open(url: "mysql://x", dataDir: FileManager.default.temporaryDirectory, logger: .init(label: "t"))
        }
    }
}
