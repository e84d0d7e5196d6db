import Foundation
import MartletCore
import SQLKit

/// The resource types metadata definitions apply to: Glance's well-known ones, plus any a namespace
/// was associated with since (Glance creates a resource type the first time it is named, and keeps
/// it after the association is gone).
enum MetadefResourceTypes {
    /// `GET /v2/metadefs/resource_types`: the built-in types first, then the others in creation order.
    static func all(in db: any SQLDatabase) async throws -> [JSON] {
        let epoch = Timestamp.iso(Date(timeIntervalSince1970: 0))
        var types: [JSON] = Namespace.resourceTypes.map { ["name": .string($0), "created_at": .string(epoch), "updated_at": .string(epoch)] }
        for row in try await db.raw("SELECT name, created_at FROM image_metadef_resource_types ORDER BY created_at, name").all() {
            let created = try row.decode(column: "created_at", as: String.self)
            types.append(["name": .string(try row.decode(column: "name", as: String.self)), "created_at": .string(created), "updated_at": .string(created)])
        }
        return types
    }

    /// Records the types a namespace's associations name that are not known yet.
    static func register(_ names: [String], in db: any SQLDatabase) async throws {
        let now = Timestamp.iso(Date())
        for name in Set(names) where !Namespace.resourceTypes.contains(name) {
            try await db.raw("""
                INSERT INTO image_metadef_resource_types (name, created_at) VALUES (\(bind: name), \(bind: now))
                ON CONFLICT (name) DO NOTHING
                """).run()
        }
    }

    /// The body of `POST .../resource_types` as Glance's schema takes it: `name` (required), `prefix`
    /// and `properties_target`, nothing else; the timestamps are read-only (403, as Glance answers).
    static func checkAssociationBody(_ f: JSONFields) throws {
        for key in ["created_at", "updated_at"] where f.has(key) { throw APIError.forbidden("Attribute '\(key)' is read-only.") }
        if let extra = f.members.keys.sorted().first(where: { !["name", "prefix", "properties_target"].contains($0) }) {
            throw APIError.badRequest("Additional properties are not allowed ('\(extra)' was unexpected)")
        }
    }
}
