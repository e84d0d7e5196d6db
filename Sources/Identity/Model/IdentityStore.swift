import Foundation
import MartletCore
import MartletStore
import SQLKit

/// Identity's rows: every query Identity makes goes through here.
struct IdentityStore: Sendable {
    let db: Database
    /// `http://host:port/identity/v3`, for the `links` Keystone puts on every resource.
    let linkBase: String

    func link(_ collection: String, _ id: String) -> JSON { ["self": .string("\(linkBase)/\(collection)/\(id)")] }

    func collectionLinks(_ path: String) -> JSON {
        ["self": .string("\(linkBase)/\(path)"), "previous": nil, "next": nil]
    }

    /// Runs a write, turning a unique-constraint violation into Keystone's 409.
    func write<T: Sendable>(conflict: String, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await db.transaction(body)
        } catch let error where Database.isUniqueViolation(error) {
            throw APIError.conflict(conflict)
        }
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await db.read(body)
    }

    func now() -> Double { Date().timeIntervalSince1970 }
}
