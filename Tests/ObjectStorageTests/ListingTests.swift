import Foundation
import MartletTestSupport
import Testing
@testable import ObjectStorage

/// Listings straight from the catalogue, on both engines: byte order, prefix, delimiter, markers, reverse.
@Suite struct ListingTests {
    static let names = ["a", "a/b", "a/c/d", "a/c/e", "b", "b/x", "é", "e\u{301}", "z", "ß/1"]

    func catalogue(_ backend: TestBackend) async throws -> (ObjectCatalog, TestDatabase) {
        let database = try await TestDatabase.make(backend)
        try await database.database.migrate(ObjectStorageService.migrations)
        let catalog = ObjectCatalog(db: database.database)
        _ = try await catalog.putContainer("AUTH_p", "c") { _ in }
        for name in Self.names {
            let record = ObjectRecord(account: "AUTH_p", container: "c", name: name, size: 1, etag: "e", contentType: "t",
                                      modified: 1, deleteAt: nil, files: [], manifest: nil, meta: [:])
            _ = try await catalog.putObject(record)
        }
        return (catalog, database)
    }

    func list(_ catalog: ObjectCatalog, _ build: (inout ListQuery) -> Void) async throws -> [String] {
        var query = ListQuery()
        build(&query)
        return try await catalog.listObjects("AUTH_p", "c", query).map {
            switch $0 {
            case .row(let r): return r.name
            case .subdir(let s): return s + "*"
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func namesComeInUTF8ByteOrder(_ backend: TestBackend) async throws {
        let (catalog, database) = try await catalogue(backend)
        defer { Task { await database.close() } }
        let sorted = Self.names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(try await list(catalog) { _ in } == sorted)
        #expect(try await list(catalog) { $0.reverse = true } == sorted.reversed())
        // Canonically equal names stay two objects.
        #expect(try await list(catalog) { $0.prefix = "e" }.count == 1)
        #expect(try await list(catalog) { $0.prefix = "é" } == ["é"])
    }

    @Test(arguments: TestBackend.available)
    func prefixDelimiterAndMarkers(_ backend: TestBackend) async throws {
        let (catalog, database) = try await catalogue(backend)
        defer { Task { await database.close() } }
        #expect(try await list(catalog) { $0.delimiter = "/" } == ["a", "a/*", "b", "b/*", "z", "é", "ß/*", "e\u{301}"].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(try await list(catalog) { $0.prefix = "a/"; $0.delimiter = "/" } == ["a/b", "a/c/*"])
        #expect(try await list(catalog) { $0.marker = "a/c/d"; $0.limit = 2 } == ["a/c/e", "b"])
        #expect(try await list(catalog) { $0.marker = "a"; $0.endMarker = "b" } == ["a/b", "a/c/d", "a/c/e"])
        #expect(try await list(catalog) { $0.reverse = true; $0.marker = "b"; $0.endMarker = "a/b" } == ["a/c/e", "a/c/d"])
        // Resuming after a subdir skips everything under it.
        #expect(try await list(catalog) { $0.delimiter = "/"; $0.marker = "a/"; $0.limit = 2 } == ["b", "b/*"])
        #expect(try await list(catalog) { $0.limit = 0 } == [])
    }
}
