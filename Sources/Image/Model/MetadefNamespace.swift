import Foundation
import MartletCore
import SQLKit

/// One metadata-definition namespace, stored as a JSON document.
struct Namespace: Sendable {
    /// Glance's built-in resource types (others are created by associating them; see `MetadefResourceTypes`).
    static let resourceTypes = ["OS::Glance::Image", "OS::Glance::Snapshot", "OS::Cinder::Volume", "OS::Nova::Flavor",
                                "OS::Nova::Aggregate", "OS::Nova::Server", "OS::Trove::Instance"]

    /// Names of namespaces and their members: 1 to 80 characters.
    static func name(_ f: JSONFields, _ key: String) throws -> String {
        try f.requiredString(key, maxLength: 80)
    }

    var name: String
    var owner: String?
    var body: [String: JSON]

    var protected: Bool { body["protected"] == .bool(true) }

    func visibleTo(_ call: APICall) -> Bool {
        body["visibility"] == "public" || call.auth.hasRole("admin") || (owner != nil && owner == call.auth.projectID)
    }

    func json(full: Bool = false) -> JSON {
        var fields = body
        if !full { for key in ["objects", "properties", "tags"] { fields[key] = nil } }
        else {
            fields["objects"] = .array(members("objects").values.sorted { $0.text < $1.text })
            fields["tags"] = .array(members("tags").values.sorted { $0.text < $1.text })
            if members("properties").isEmpty { fields["properties"] = nil }
            if members("objects").isEmpty { fields["objects"] = nil }
            if members("tags").isEmpty { fields["tags"] = nil }
        }
        fields["namespace"] = .string(name)
        fields["owner"] = JSON(owner)
        fields["self"] = .string("/v2/metadefs/namespaces/\(name)")
        fields["schema"] = "/v2/schemas/metadefs/namespace"
        return .object(fields)
    }

    func members(_ kind: String) -> [String: JSON] { body[kind]?.objectValue ?? [:] }

    mutating func removeMember(_ kind: String, _ name: String) {
        var all = members(kind)
        all[name] = nil
        body[kind] = .object(all)
    }

    private mutating func put(_ kind: String, _ name: String, _ value: JSON, replacing old: String?) throws {
        var all = members(kind)
        if let old {
            guard all[old] != nil else { throw APIError.notFound("Metadata definition \(kind.dropLast()) \(old) was not found.") }
            all[old] = nil
        }
        if all[name] != nil { throw APIError.conflict("Metadata definition \(kind.dropLast()) \(name) already exists in namespace \(self.name).") }
        all[name] = value
        body[kind] = .object(all)
    }

    mutating func apply(_ f: JSONFields, creating: Bool) throws {
        if !creating, let rename = try f.string("namespace", minLength: 1, maxLength: 80) { name = rename }
        let now = Timestamp.iso(Date())
        if creating { body["created_at"] = .string(now); body["updated_at"] = .string(now) }
        body["display_name"] = JSON(try f.string("display_name", maxLength: 80, nullable: true) ?? (creating ? nil : body["display_name"]?.stringValue))
        body["description"] = JSON(try f.string("description", maxLength: 500, nullable: true) ?? (creating ? nil : body["description"]?.stringValue))
        if let visibility = try f.string("visibility") {
            guard visibility == "public" || visibility == "private" else {
                throw APIError.badRequest("Invalid visibility \(visibility): use public or private.")
            }
            body["visibility"] = .string(visibility)
        } else if creating {
            body["visibility"] = "private"
        }
        if let protected = try f.bool("protected") { body["protected"] = .bool(protected) } else if creating { body["protected"] = false }
        if creating { body["resource_type_associations"] = [] }
    }

    @discardableResult
    mutating func setObject(_ f: JSONFields, replacing old: String?) throws -> JSON {
        let name = try Namespace.name(f, "name")
        let now = Timestamp.iso(Date())
        let object: JSON = [
            "name": .string(name), "description": JSON(try f.string("description", nullable: true)),
            "properties": .object(try f.object("properties")?.members ?? [:]), "required": JSON(try f.strings("required") ?? []),
            "created_at": .string(now), "updated_at": .string(now),
            "schema": "/v2/schemas/metadefs/object", "self": .string("/v2/metadefs/namespaces/\(self.name)/objects/\(name)"),
        ]
        try put("objects", name, object, replacing: old)
        return object
    }

    @discardableResult
    mutating func setProperty(_ f: JSONFields, name: String, replacing old: String?) throws -> JSON {
        guard let type = try f.string("type") else { throw APIError.badRequest("Invalid input for field 'type': the field is required.") }
        guard ["string", "integer", "number", "boolean", "array", "object"].contains(type) else {
            throw APIError.badRequest("Invalid property type \(type).")
        }
        guard let title = try f.string("title", maxLength: 255) else { throw APIError.badRequest("Invalid input for field 'title': the field is required.") }
        var property = f.members
        property["name"] = .string(name)
        property["title"] = .string(title)
        try put("properties", name, .object(property), replacing: old)
        return .object(property)
    }

    @discardableResult
    mutating func addTag(_ name: String) throws -> JSON {
        let now = Timestamp.iso(Date())
        let tag: JSON = ["name": .string(name), "created_at": .string(now), "updated_at": .string(now)]
        try put("tags", name, tag, replacing: nil)
        return tag
    }

    @discardableResult
    mutating func associate(_ f: JSONFields) throws -> JSON {
        let name = try Namespace.name(f, "name")
        var associations = body["resource_type_associations"]?.array ?? []
        if associations.contains(where: { $0["name"]?.stringValue == name }) {
            throw APIError.conflict("The metadata definition resource-type association of resource-type=\(name) to namespace=\(self.name) already exists.")
        }
        let now = Timestamp.iso(Date())
        var association: [String: JSON] = ["name": .string(name), "created_at": .string(now), "updated_at": .string(now)]
        if let prefix = try f.string("prefix", maxLength: 80) { association["prefix"] = .string(prefix) }
        if let target = try f.string("properties_target", maxLength: 80) { association["properties_target"] = .string(target) }
        associations.append(.object(association))
        body["resource_type_associations"] = .array(associations)
        return .object(association)
    }

    static func all(in db: any SQLDatabase) async throws -> [Namespace] {
        try await db.raw("SELECT namespace, owner, body FROM image_metadef_namespaces ORDER BY namespace").all().map(Namespace.init(row:))
    }

    static func delete(_ name: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM image_metadef_namespaces WHERE namespace = \(bind: name)").run()
    }

    static func load(_ name: String, in db: any SQLDatabase) async throws -> Namespace? {
        try await db.raw("SELECT namespace, owner, body FROM image_metadef_namespaces WHERE namespace = \(bind: name)").first().map(Namespace.init(row:))
    }

    /// Stores the namespace, and records any resource type its associations name for the first time.
    func save(in db: any SQLDatabase, new: Bool) async throws {
        try await MetadefResourceTypes.register((body["resource_type_associations"]?.array ?? []).compactMap { $0["name"]?.stringValue }, in: db)
        let text = JSON.object(body).text
        if new {
            try await db.raw("INSERT INTO image_metadef_namespaces (namespace, owner, body) VALUES (\(bind: name), \(bind: owner), \(bind: text))").run()
        } else {
            try await db.raw("UPDATE image_metadef_namespaces SET body = \(bind: text) WHERE namespace = \(bind: name)").run()
        }
    }
}

extension Namespace {
    init(row: any SQLRow) throws {
        name = try row.decode(column: "namespace", as: String.self)
        owner = try row.decode(column: "owner", as: String?.self)
        body = (try? JSON.parse(Array(try row.decode(column: "body", as: String.self).utf8)))?.objectValue ?? [:]
    }
}
