import Foundation
import Logging
import MartletCore
import MartletStore
import SQLKit

/// The database engines every store test runs against: SQLite always, and PostgreSQL when
/// `MARTLET_TEST_POSTGRES_URL` names a server (the test script starts one). Under CI a missing
/// server is an error, not a silent skip.
public enum TestBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }

    public static var postgresURL: String? { ProcessInfo.processInfo.environment["MARTLET_TEST_POSTGRES_URL"] }

    public static var available: [TestBackend] {
        if postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil { return [.sqlite, .postgres] }
        return [.sqlite]
    }
}

/// A fresh, empty database of one engine: a new SQLite file, or a new PostgreSQL schema.
public struct TestDatabase: Sendable {
    public let database: Database
    public let dataDir: URL
    public let url: String?

    public static func make(_ backend: TestBackend) async throws -> TestDatabase {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let logger = Logger(label: "test")
        switch backend {
        case .sqlite:
            return TestDatabase(database: try Database.open(url: nil, dataDir: dataDir, logger: logger), dataDir: dataDir, url: nil)
        case .postgres:
            guard let base = TestBackend.postgresURL else {
                throw ConfigError("MARTLET_TEST_POSTGRES_URL is not set; scripts/with-postgres.sh starts a server and sets it")
            }
            let schema = "t_" + Identifier.hex()
            let admin = try Database.open(url: base, dataDir: dataDir, logger: logger)
            try await admin.read { try await $0.raw("CREATE SCHEMA \(unsafeRaw: schema)").run() }
            await admin.shutdown()
            let url = base + (base.contains("?") ? "&" : "?") + "search_path=\(schema)"
            return TestDatabase(database: try Database.open(url: url, dataDir: dataDir, logger: logger), dataDir: dataDir, url: url)
        }
    }

    public func close() async {
        await database.shutdown()
        try? FileManager.default.removeItem(at: dataDir)
    }
}
