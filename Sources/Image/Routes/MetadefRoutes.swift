import Foundation
import Hummingbird
import MartletCore
import MartletStore
import SQLKit

/// Metadata definitions (`/v2/metadefs`): namespaces with their objects, properties, tags and
/// resource-type associations, which dashboards use to offer well-known image properties.
struct MetadefRoutes {
    let service: ImageService
    var db: Database { service.repo.db }

    static let resourceTypes = ["OS::Glance::Image", "OS::Glance::Snapshot", "OS::Cinder::Volume", "OS::Nova::Flavor",
                                "OS::Nova::Aggregate", "OS::Nova::Server", "OS::Trove::Instance"]

    func register(_ r: PolicyRouter) {
        let base = "/v2/metadefs/namespaces"
        r.get("/v2/metadefs/resource_types", rule: "image:get_metadef") { _ in
            let now = Timestamp.iso(Date(timeIntervalSince1970: 0))
            return .json(.ok, ["resource_types": .array(Self.resourceTypes.map { ["name": .string($0), "created_at": .string(now), "updated_at": .string(now)] })])
        }
        r.get(base, rule: "image:get_metadef") { call in
            let all = try await db.read { db in
                try await db.raw("SELECT namespace, owner, body FROM image_metadef_namespaces ORDER BY namespace").all().map(Namespace.init(row:))
            }
            let visible = all.filter { $0.visibleTo(call) }
            return .json(.ok, ["namespaces": .array(visible.map { $0.json() }), "first": .string(base), "schema": "/v2/schemas/metadefs/namespaces"])
        }
        r.post(base, rule: "image:manage_metadef") { call in
            let f = try JSONFields(try await call.body(), path: "")
            var ns = Namespace(name: try Self.name(f, "namespace"), owner: call.auth.projectID, body: [:])
            try ns.apply(f, creating: true)
            for association in try f.objects("resource_type_associations") ?? [] { try ns.associate(association) }
            for object in try f.objects("objects") ?? [] { try ns.setObject(object, replacing: nil) }
            if let properties = try f.object("properties") {
                for (name, value) in properties.members { try ns.setProperty(try JSONFields(value, path: "properties.\(name)"), name: name, replacing: nil) }
            }
            for tag in try f.objects("tags") ?? [] { try ns.addTag(try Self.name(tag, "name")) }
            let created = ns
            try await db.transaction { db in
                if try await Namespace.load(created.name, in: db) != nil { throw APIError.conflict("Metadata definition namespace \(created.name) already exists.") }
                try await created.save(in: db, new: true)
            }
            return .json(.created, created.json())
        }
        r.get("\(base)/:namespace", rule: "image:get_metadef") { call in
            .json(.ok, try await load(call).json(full: true))
        }
        r.put("\(base)/:namespace", rule: "image:manage_metadef") { call in
            try await modify(call) { ns, f in
                try ns.apply(f, creating: false)
                return ns.json()
            }
        }
        r.delete("\(base)/:namespace", rule: "image:manage_metadef") { call in
            let ns = try await load(call)
            guard !ns.protected else { throw APIError.forbidden("Namespace \(ns.name) is protected and cannot be deleted.") }
            try await db.transaction { try await $0.raw("DELETE FROM image_metadef_namespaces WHERE namespace = \(bind: ns.name)").run() }
            return .empty()
        }

        // Objects, properties and tags: each a named member of its namespace.
        r.get("\(base)/:namespace/objects", rule: "image:get_metadef") { call in
            let ns = try await load(call)
            return .json(.ok, ["objects": .array(ns.members("objects").values.sorted { $0.text < $1.text }), "schema": "v2/schemas/metadefs/objects"])
        }
        r.post("\(base)/:namespace/objects", rule: "image:manage_metadef") { call in
            try await modify(call, status: .created) { ns, f in try ns.setObject(f, replacing: nil) }
        }
        r.get("\(base)/:namespace/objects/:name", rule: "image:get_metadef") { call in
            .json(.ok, try await member(call, "objects"))
        }
        r.put("\(base)/:namespace/objects/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            return try await modify(call) { ns, f in try ns.setObject(f, replacing: name) }
        }
        r.delete("\(base)/:namespace/objects/:name", rule: "image:manage_metadef") { call in
            try await removeMember(call, "objects")
        }
        r.get("\(base)/:namespace/properties", rule: "image:get_metadef") { call in
            .json(.ok, ["properties": .object(try await load(call).members("properties"))])
        }
        r.post("\(base)/:namespace/properties", rule: "image:manage_metadef") { call in
            try await modify(call, status: .created) { ns, f in try ns.setProperty(f, name: try Self.name(f, "name"), replacing: nil) }
        }
        r.get("\(base)/:namespace/properties/:name", rule: "image:get_metadef") { call in
            .json(.ok, try await member(call, "properties"))
        }
        r.put("\(base)/:namespace/properties/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            return try await modify(call) { ns, f in try ns.setProperty(f, name: try Self.name(f, "name"), replacing: name) }
        }
        r.delete("\(base)/:namespace/properties/:name", rule: "image:manage_metadef") { call in
            try await removeMember(call, "properties")
        }
        r.get("\(base)/:namespace/tags", rule: "image:get_metadef") { call in
            .json(.ok, ["tags": .array(try await load(call).members("tags").values.sorted { $0.text < $1.text })])
        }
        r.post("\(base)/:namespace/tags", rule: "image:manage_metadef") { call in
            try await modify(call, status: .created) { ns, f in
                for tag in try f.objects("tags") ?? [] { try ns.addTag(try Self.name(tag, "name")) }
                return ["tags": .array(ns.members("tags").values.sorted { $0.text < $1.text })]
            }
        }
        r.delete("\(base)/:namespace/tags", rule: "image:manage_metadef") { call in
            _ = try await modify(call, readsBody: false) { ns, _ in ns.body["tags"] = [:]; return [:] }
            return .empty()
        }
        r.post("\(base)/:namespace/tags/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            return try await modify(call, status: .created, readsBody: false) { ns, _ in try ns.addTag(name) }
        }
        r.get("\(base)/:namespace/tags/:name", rule: "image:get_metadef") { call in
            .json(.ok, try await member(call, "tags"))
        }
        r.put("\(base)/:namespace/tags/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            return try await modify(call) { ns, f in
                guard ns.members("tags")[name] != nil else { throw APIError.notFound("Tag \(name) not found in namespace \(ns.name).") }
                ns.removeMember("tags", name)
                return try ns.addTag(try Self.name(f, "name"))
            }
        }
        r.delete("\(base)/:namespace/tags/:name", rule: "image:manage_metadef") { call in
            try await removeMember(call, "tags")
        }
        r.get("\(base)/:namespace/resource_types", rule: "image:get_metadef") { call in
            .json(.ok, ["resource_type_associations": (try await load(call)).body["resource_type_associations"] ?? []])
        }
        r.post("\(base)/:namespace/resource_types", rule: "image:manage_metadef") { call in
            try await modify(call, status: .created) { ns, f in try ns.associate(f) }
        }
        r.delete("\(base)/:namespace/resource_types/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            _ = try await modify(call, readsBody: false) { ns, _ in
                let associations = ns.body["resource_type_associations"]?.array ?? []
                guard associations.contains(where: { $0["name"]?.stringValue == name }) else {
                    throw APIError.notFound("Resource type \(name) is not associated with namespace \(ns.name).")
                }
                ns.body["resource_type_associations"] = .array(associations.filter { $0["name"]?.stringValue != name })
                return [:]
            }
            return .empty()
        }
    }

    static func name(_ f: JSONFields, _ key: String) throws -> String {
        try f.requiredString(key, maxLength: 80)
    }

    private func load(_ call: APICall) async throws -> Namespace {
        let name = try call.param("namespace")
        guard let ns = try await db.read({ try await Namespace.load(name, in: $0) }), ns.visibleTo(call) else {
            throw APIError.notFound("Metadata definition namespace \(name) was not found.")
        }
        return ns
    }

    private func member(_ call: APICall, _ kind: String) async throws -> JSON {
        let name = try call.param("name")
        guard let item = try await load(call).members(kind)[name] else {
            throw APIError.notFound("Metadata definition \(kind.dropLast()) \(name) was not found.")
        }
        return item
    }

    private func removeMember(_ call: APICall, _ kind: String) async throws -> Response {
        let name = try call.param("name")
        _ = try await modify(call, readsBody: false) { ns, _ in
            guard ns.members(kind)[name] != nil else { throw APIError.notFound("Metadata definition \(kind.dropLast()) \(name) was not found.") }
            ns.removeMember(kind, name)
            return [:]
        }
        return .empty()
    }

    /// Loads, changes and saves a namespace in one transaction; the change returns the response body.
    private func modify(_ call: APICall, status: HTTPResponse.Status = .ok, readsBody: Bool = true,
                        _ change: @Sendable (inout Namespace, JSONFields) throws -> JSON) async throws -> Response {
        let original = try await load(call)
        let fields = try JSONFields(readsBody ? try await call.body() : [:], path: "")
        let result = try await db.transaction { db -> JSON in
            guard var ns = try await Namespace.load(original.name, in: db) else { throw APIError.notFound("Metadata definition namespace \(original.name) was not found.") }
            let body = try change(&ns, fields)
            ns.body["updated_at"] = .string(Timestamp.iso(Date()))
            if ns.name != original.name {
                if try await Namespace.load(ns.name, in: db) != nil { throw APIError.conflict("Metadata definition namespace \(ns.name) already exists.") }
                try await db.raw("DELETE FROM image_metadef_namespaces WHERE namespace = \(bind: original.name)").run()
                try await ns.save(in: db, new: true)
            } else {
                try await ns.save(in: db, new: false)
            }
            return body
        }
        return .json(status, result)
    }
}

/// One metadata-definition namespace, stored as a JSON document.
struct Namespace: Sendable {
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
        let name = try MetadefRoutes.name(f, "name")
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
        let name = try MetadefRoutes.name(f, "name")
        guard MetadefRoutes.resourceTypes.contains(name) else { throw APIError.notFound("Resource type \(name) was not found.") }
        var associations = body["resource_type_associations"]?.array ?? []
        if associations.contains(where: { $0["name"]?.stringValue == name }) {
            throw APIError.conflict("Resource type \(name) is already associated with namespace \(self.name).")
        }
        let now = Timestamp.iso(Date())
        var association: [String: JSON] = ["name": .string(name), "created_at": .string(now), "updated_at": .string(now)]
        if let prefix = try f.string("prefix", maxLength: 80) { association["prefix"] = .string(prefix) }
        if let target = try f.string("properties_target", maxLength: 80) { association["properties_target"] = .string(target) }
        associations.append(.object(association))
        body["resource_type_associations"] = .array(associations)
        return .object(association)
    }

    static func load(_ name: String, in db: any SQLDatabase) async throws -> Namespace? {
        try await db.raw("SELECT namespace, owner, body FROM image_metadef_namespaces WHERE namespace = \(bind: name)").first().map(Namespace.init(row:))
    }

    func save(in db: any SQLDatabase, new: Bool) async throws {
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
