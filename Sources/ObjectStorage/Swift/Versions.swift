import Foundation
import MartletCore

/// Object versioning: with `X-Versions-Location` (stack) an overwritten object moves to the
/// versions container and a DELETE brings the newest one back; with `X-History-Location` every
/// overwritten or deleted object moves there and nothing comes back. Archived names are
/// `<name length, 3 hex digits><name>/<timestamp>`, as in Swift.
struct Versions {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }

    /// Moves `old` (just replaced or deleted) into the archive if its container keeps one;
    /// true when it did, so its files stay.
    func archive(_ old: ObjectRecord, deleted: Bool = false) async throws -> Bool {
        guard let container = try await catalog.container(old.account, old.container) else { return false }
        let stack = container.meta["x-versions-location"], history = container.meta["x-history-location"]
        guard let location = history ?? (deleted ? nil : stack), !old.isExpired else { return false }
        var archived = old
        archived.container = location
        archived.name = Self.prefix(old.name) + old.modified.xTimestamp
        guard case .stored = try await catalog.putObject(archived) else { return false }
        return true
    }

    /// After a DELETE in a stack-mode container: the newest archived version becomes current.
    func restore(_ account: String, _ container: String, _ name: String) async throws {
        guard let record = try await catalog.container(account, container), let location = record.meta["x-versions-location"],
              record.meta["x-history-location"] == nil else { return }
        var query = ListQuery()
        query.prefix = Self.prefix(name)
        query.reverse = true
        query.limit = 1
        guard case .row(let entry)? = try await catalog.listObjects(account, location, query).first,
              var newest = try await catalog.deleteObject(account, location, entry.name) else { return }
        newest.container = container
        newest.name = name
        if case .stored(let replaced?) = try await catalog.putObject(newest) { await service.blobs.delete(replaced.files.map(\.file)) }
    }

    static func prefix(_ name: String) -> String { String(format: "%03x", name.utf8.count) + name + "/" }
}
