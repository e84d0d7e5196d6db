import Logging
import MartletCore
import NIOCore
import SQLKit

/// A connection that refuses every statement after a deadline: a transaction that runs too long
/// (a loop whose size came from a request, say) fails and is rolled back instead of holding the
/// writer for ever.
struct DeadlineDatabase: SQLDatabase {
    let base: any SQLDatabase
    let deadline: ContinuousClock.Instant
    let limit: Duration

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        guard ContinuousClock.now < deadline else { return eventLoop.makeFailedFuture(StoreError.transactionTimedOut(limit)) }
        return base.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        guard ContinuousClock.now < deadline else { throw StoreError.transactionTimedOut(limit) }
        try await base.execute(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await base.withSession { [deadline, limit] in try await closure(DeadlineDatabase(base: $0, deadline: deadline, limit: limit)) }
    }
}
