import AsyncKit
import Foundation
import Synchronization
import Logging
import MartletCore
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit

/// The one database every service stores its rows in: the embedded SQLite file by default, or a
/// shared PostgreSQL server. Services write portable SQL through SQLKit; this type hides the rest.
public final class Database: Sendable {
    public enum Kind: Sendable { case sqlite, postgres }

    /// `transactionTimeout` is set once, before the database is shared.
    private let timeout = Mutex<Duration>(.seconds(30))
    /// Whether a write probe is waiting for the writer.
    private let probing = Mutex(false)


    /// async-kit's pools guard their state with a lock but do not declare it.
    enum Pool: @unchecked Sendable {
        case sqlite(EventLoopGroupConnectionPool<SQLiteSource>)
        case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>)
    }

    public let kind: Kind
    let pool: Pool
    /// SQLite has one writer at a time; queueing writers here avoids busy-waiting on its lock.
    let writeLock = AsyncLock()
    let logger: Logger
    /// How long one transaction may run before its statements are refused and it is rolled back.
    public var transactionTimeout: Duration {
        get { timeout.withLock { $0 } }
        set { timeout.withLock { $0 = newValue } }
    }

    init(kind: Kind, pool: Pool, logger: Logger) {
        self.kind = kind
        self.pool = pool
        self.logger = logger
    }

    /// Opens `postgres://…` when given, else `<dataDir>/martlet.sqlite`.
    public static func open(url: String?, dataDir: URL, logger: Logger) throws -> Database {
        let group = MultiThreadedEventLoopGroup.singleton
        if let url, url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            // `?search_path=schema` keeps Martlet's tables in a schema of their own.
            var components = URLComponents(string: url)
            let searchPath = components?.queryItems?.first { $0.name == "search_path" }?.value
            let otherItems = components?.queryItems?.filter { $0.name != "search_path" }
            components?.queryItems = otherItems
            if components?.queryItems?.isEmpty == true { components?.queryItems = nil }
            var config: SQLPostgresConfiguration
            do { config = try SQLPostgresConfiguration(url: components?.string ?? url) } catch {
                throw StoreError.configuration("cannot parse the database URL: \(error)")
            }
            if let searchPath { config.searchPath = [searchPath] }
            // Each reconcile loop holds one connection for its leadership lock (conductor, data plane, power sync).
            let pool = EventLoopGroupConnectionPool(
                source: PostgresConnectionSource(sqlConfiguration: config),
                maxConnectionsPerEventLoop: 6, pruneInterval: .seconds(60), logger: logger, on: group)
            return Database(kind: .postgres, pool: .postgres(pool), logger: logger)
        }
        if let url, !url.isEmpty, !url.hasPrefix("sqlite://") {
            throw StoreError.configuration("unsupported database URL '\(url)': use postgres://… or leave it unset for SQLite")
        }
        let path = url.map { String($0.dropFirst("sqlite://".count)) }
            ?? dataDir.appendingPathComponent("martlet.sqlite").path
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        // The file holds password hashes: owner-only, and SQLite gives its -wal and -shm files the same mode.
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let pool = EventLoopGroupConnectionPool(
            source: SQLiteSource(path: path), maxConnectionsPerEventLoop: 2,
            pruneInterval: .seconds(60), logger: logger, on: group)
        return Database(kind: .sqlite, pool: .sqlite(pool), logger: logger)
    }

    /// Runs `body` on a pooled connection (reads, or single statements that need no transaction).
    public func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        switch pool {
        case .sqlite(let pool):
            let connection = try await pool.requestConnection(logger: logger).get()
            defer { pool.releaseConnection(connection, logger: logger) }
            return try await body(connection.sql())
        case .postgres(let pool):
            let connection = try await pool.requestConnection(logger: logger).get()
            defer { pool.releaseConnection(connection, logger: logger) }
            return try await body(connection.sql())
        }
    }

    /// Runs `body` in one transaction: all of its writes land, or none do.
    public func transaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        switch kind {
        case .sqlite:
            return try await writeLock.withLock {
                try await read { db in try await Self.inTransaction(bounded(db), begin: "BEGIN IMMEDIATE", body) }
            }
        case .postgres:
            return try await read { db in try await Self.inTransaction(bounded(db), begin: "BEGIN", body) }
        }
    }

    /// Runs `work` on each item in one transaction: an item whose work throws undoes its own writes
    /// only and fails alone; the others commit together. `prepare` runs once first and gives the state
    /// the items share; an item's changes to it stand only if the item succeeds.
    public func transaction<Item, Shared, T: Sendable>(
        each items: [Item], prepare: (any SQLDatabase) async throws -> Shared,
        _ work: (Item, inout Shared, any SQLDatabase) async throws -> T
    ) async -> [Result<T, any Error>] {
        if items.count == 1 {
            do {
                return [.success(try await transaction { db in
                    var shared = try await prepare(db)
                    return try await work(items[0], &shared, db)
                })]
            } catch {
                return [.failure(error)]
            }
        }
        // Items seldom fail: they run plainly first, and only if one does, again with a savepoint each.
        if let results = try? await transaction({ db in
            var shared = try await prepare(db)
            var results: [Result<T, any Error>] = []
            for item in items { results.append(.success(try await work(item, &shared, db))) }
            return results
        }) {
            return results
        }
        do {
            return try await transaction { db in
                var shared = try await prepare(db)
                var results: [Result<T, any Error>] = []
                for item in items {
                    try await db.raw("SAVEPOINT item").run()
                    var state = shared
                    do {
                        let output = try await work(item, &state, db)
                        try await db.raw("RELEASE SAVEPOINT item").run()
                        shared = state
                        results.append(.success(output))
                    } catch {
                        try await db.raw("ROLLBACK TO SAVEPOINT item").run()
                        try await db.raw("RELEASE SAVEPOINT item").run()
                        results.append(.failure(error))
                    }
                }
                return results
            }
        } catch {
            // The transaction failed as a whole (at commit, say): each item runs again alone.
            var results: [Result<T, any Error>] = []
            for item in items { results += await transaction(each: [item], prepare: prepare, work) }
            return results
        }
    }

    /// `transaction(each:)` for items that share nothing.
    public func transaction<Item, T: Sendable>(
        each items: [Item], _ work: (Item, any SQLDatabase) async throws -> T
    ) async -> [Result<T, any Error>] {
        await transaction(each: items, prepare: { _ in () }) { item, _, db in try await work(item, db) }
    }

    /// The connection as a transaction sees it: refused past the deadline.
    private func bounded(_ db: any SQLDatabase) -> DeadlineDatabase {
        let limit = transactionTimeout
        return DeadlineDatabase(base: db, deadline: .now + limit, limit: limit)
    }

    static func inTransaction<T>(_ db: DeadlineDatabase, begin: String, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await db.raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(db)
            try await db.raw("COMMIT").run()
            return result
        } catch {
            // The rollback goes past the deadline: it is what ends the transaction.
            try? await db.base.raw("ROLLBACK").run()
            throw error
        }
    }

    /// Whether a write can be made now: an empty transaction commits within `wait` (the health
    /// check). While an earlier probe is still stuck behind the writer, the answer is no at once.
    public func canWrite(within wait: Duration) async -> Bool {
        guard probing.withLock({ busy in defer { busy = true }; return !busy }) else { return false }
        let answer = OneAnswer()
        return await withCheckedContinuation { continuation in
            answer.set(continuation)
            Task {
                let ok = (try? await self.transaction { db in try await db.raw("SELECT 1").run(); return true }) ?? false
                self.probing.withLock { $0 = false }
                answer.give(ok)
            }
            Task {
                try? await Task.sleep(for: wait)
                answer.give(false)
            }
        }
    }

    public func shutdown() async {
        switch pool {
        case .sqlite(let pool): try? await pool.shutdownAsync()
        case .postgres(let pool): try? await pool.shutdownAsync()
        }
    }

    /// Whether `error` is PostgreSQL giving up on a transaction that met another one (deadlock or
    /// serialization failure): the request may simply be retried.
    public static func isConcurrencyFailure(_ error: any Error) -> Bool {
        guard let pg = error as? PSQLError, let state = pg.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// Whether `error` says nothing about the request, only about the database at that moment (a
    /// transaction that met another one or ran past its deadline, no free connection in time, a lost
    /// connection, a busy SQLite file): work that failed this way may be tried again.
    public static func isTransient(_ error: any Error) -> Bool {
        if case StoreError.transactionTimedOut = error { return true }
        if case StoreError.concurrentChange = error { return true }
        if error is ConnectionPoolTimeoutError { return true }
        if isConcurrencyFailure(error) { return true }
        if let pg = error as? PSQLError {
            return [.serverClosedConnection, .connectionError, .uncleanShutdown].contains(pg.code)
        }
        let text = String(describing: error)
        return text.contains("database is locked") || text.contains("SQLITE_BUSY")
    }

    /// Whether `error` is a unique-constraint violation (a duplicate), on either engine.
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        if let pg = error as? PSQLError { return pg.serverInfo?[.sqlState] == "23505" }
        return String(describing: error).contains("UNIQUE constraint failed")
    }
}

public enum StoreError: Error, CustomStringConvertible, APIErrorConvertible {
    case configuration(String)
    case migration(String)
    case transactionTimedOut(Duration)
    /// A write that met a concurrent one (a duplicate key, a serialization failure): a 409 to a
    /// client, which may retry; background work retries it itself.
    case concurrentChange

    public var description: String {
        switch self {
        case .configuration(let m), .migration(let m): return m
        case .transactionTimedOut(let limit): return "a database transaction ran longer than \(limit) and was rolled back"
        case .concurrentChange: return "a write met a concurrent one"
        }
    }

    public var apiError: APIError {
        switch self {
        case .concurrentChange:
            return APIError(.conflict, "The request conflicts with a concurrent change; retry it.", type: "Conflict")
        case .transactionTimedOut:
            return APIError(.serviceUnavailable, "The request took too long to store and was undone; nothing changed. Try again, or ask for less at once.")
        default: return .internalError()
        }
    }
}

/// Opens SQLite connections set up for a server: WAL, a busy timeout for other processes
/// (`martlet admin …`), and foreign keys.
struct SQLiteSource: ConnectionPoolSource {
    let path: String

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        SQLiteConnection.open(storage: .file(path: path), threadPool: BlockingPools.database, logger: logger, on: eventLoop)
            .flatMap { connection in
                let pragmas = ["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 10000",
                               "PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"]
                return pragmas.reduce(eventLoop.makeSucceededVoidFuture()) { future, pragma in
                    future.flatMap { connection.query(pragma).map { _ in } }
                }.map { connection }
            }
    }
}

/// Resumes a continuation with the first answer given; later ones are dropped.
private final class OneAnswer: Sendable {
    private let waiting = Mutex<CheckedContinuation<Bool, Never>?>(nil)

    func set(_ continuation: CheckedContinuation<Bool, Never>) { waiting.withLock { $0 = continuation } }

    func give(_ value: Bool) {
        waiting.withLock { $0.take() }?.resume(returning: value)
    }
}
