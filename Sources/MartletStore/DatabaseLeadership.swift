import Logging
import MartletCore
import SQLKit

/// Leadership by a PostgreSQL session advisory lock, so that of several `martlet serve` processes
/// sharing one database exactly one runs each singleton loop; if its connection dies, the lock is
/// freed and another process takes over. SQLite has one process per database: it always leads.
public struct DatabaseLeadership: Leadership {
    let database: Database
    let retryInterval: Duration
    let heartbeat: Duration

    public init(database: Database, retryInterval: Duration = .seconds(2), heartbeat: Duration = .seconds(5)) {
        self.database = database
        self.retryInterval = retryInterval
        self.heartbeat = heartbeat
    }

    public func lead(_ name: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        guard database.kind == .postgres else { return try await body() }
        // Advisory locks are per database, not per schema: clouds sharing one database in separate
        // schemas (`?search_path=`) must not wait for each other's leader.
        let schema = try await database.read { db in
            try await db.raw("SELECT current_schema() AS s").first()?.decode(column: "s", as: String?.self) ?? ""
        }
        let key = Self.lockKey("\(schema):\(name)")
        var waiting = false
        while true {
            try Task.checkCancellation()
            do {
                if try await leadOnce(key, body) { return }
                if !waiting { database.logger.info("another process leads \(name); waiting to take over") }
                waiting = true
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                database.logger.error("leading \(name) failed; trying again", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: retryInterval)
        }
    }

    /// Holds the lock on one connection while `body` runs, checking the connection is alive; false
    /// when another session holds it.
    private func leadOnce(_ key: Int64, _ body: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        try await database.read { db in
            let row = try await db.raw("SELECT pg_try_advisory_lock(\(bind: key)) AS held").first()
            guard try row?.decode(column: "held", as: Bool.self) == true else { return false }
            let beat = heartbeat
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await body() }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: beat)
                            try await db.raw("SELECT 1").run()
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                _ = try? await db.raw("SELECT pg_advisory_unlock(\(bind: key))").run()
                throw error
            }
            _ = try? await db.raw("SELECT pg_advisory_unlock(\(bind: key))").run()
            return true
        }
    }

    /// A stable 64-bit key for a loop's name (FNV-1a), the same in every process.
    static func lockKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "martlet:\(name)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }
}
