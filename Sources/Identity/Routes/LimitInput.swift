import Foundation
import MartletCore
import SQLKit

/// The request-body rules the two limit APIs share (Keystone's JSON schemas for them).
enum LimitInput {
    /// `{"<key>": [{…}, …]}` with at least one item and nothing else.
    static func items(_ body: JSON, key: String) throws -> [JSONFields] {
        let root = try JSONFields(body, path: "")
        try onlyKnown(root, [key])
        guard let items = try root.objects(key) else { throw APIError.badRequest("Invalid input for field '\(key)': the field is required.") }
        guard !items.isEmpty else { throw APIError.badRequest("Invalid input for field '\(key)': at least one item is required.") }
        return items
    }

    static func onlyKnown(_ f: JSONFields, _ known: Set<String>) throws {
        if let unknown = f.members.keys.filter({ !known.contains($0) }).sorted().first {
            let field = f.path.isEmpty ? unknown : "\(f.path).\(unknown)"
            throw APIError.badRequest("Invalid input for field '\(field)': additional properties are not allowed.")
        }
    }

    /// A resource name: 1 to 255 characters, not all blank.
    static func resourceName(_ f: JSONFields, required: Bool) throws -> String? {
        let name = required ? try f.requiredString("resource_name", maxLength: 255) : try f.string("resource_name", minLength: 1, maxLength: 255)
        if let name, name.allSatisfy(\.isWhitespace) {
            throw APIError.badRequest("Invalid input for field '\(f.path).resource_name': must not be blank.")
        }
        return name
    }

    /// A limit: -1 (unlimited) up to the largest signed 32-bit integer.
    static func amount(_ f: JSONFields, _ key: String) throws -> Int? {
        guard let value = try f.int(key) else { return nil }
        guard (-1...0x7FFF_FFFF).contains(value) else {
            throw APIError.badRequest("Invalid input for field '\(f.path).\(key)': must be between -1 and 2147483647.")
        }
        return value
    }

    /// The service and region a limit names must exist (400 otherwise, as in Keystone).
    static func requireCatalog(_ f: JSONFields, serviceID: String, regionID: String?, store: IdentityStore, in db: any SQLDatabase) async throws {
        guard try await store.service(serviceID, in: db) != nil else {
            throw APIError.badRequest("Invalid input for field '\(f.path).service_id': no service \(serviceID).")
        }
        if let regionID, try await store.region(regionID, in: db) == nil {
            throw APIError.badRequest("Invalid input for field '\(f.path).region_id': no region \(regionID).")
        }
    }
}
