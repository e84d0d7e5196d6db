import Foundation
import MartletCore
import MartletStore
import SQLKit
import Synchronization

/// Identity's rows: every query Identity makes goes through here.
struct IdentityStore: Sendable {
    let db: Database
    /// `http://host:port/identity/v3`, for the `links` Keystone puts on every resource.
    let linkBase: String
    /// Counts this process's committed writes, so caches of what was read before one can tell they are stale.
    let changes = ChangeCounter()
    let catalogCache = ValidationCache<CatalogSnapshot>(ttl: .seconds(5))
    let endpointFilterCache = ValidationCache<EndpointFilter>(ttl: .seconds(5))

    func link(_ collection: String, _ id: String) -> JSON { ["self": .string("\(linkBase)/\(collection)/\(id)")] }

    func collectionLinks(_ path: String) -> JSON {
        ["self": .string("\(linkBase)/\(path)"), "previous": nil, "next": nil]
    }

    /// Every identity write goes through here: one transaction, then the change counter moves on.
    func transaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        defer { changes.advance() }
        return try await db.transaction(body)
    }

    /// Runs a write, turning a unique-constraint violation into Keystone's 409.
    func write<T: Sendable>(conflict: String, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await transaction(body)
        } catch let error where Database.isUniqueViolation(error) {
            throw APIError.conflict(conflict)
        }
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await db.read(body)
    }

    func now() -> Double { Date().timeIntervalSince1970 }
}

/// A number that moves on with every committed write.
final class ChangeCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    var current: UInt64 { value.load(ordering: .acquiring) }
    func advance() { value.add(1, ordering: .releasing) }
}
