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

    func register(_ r: PolicyRouter) {
        let base = "/v2/metadefs/namespaces"
        r.get("/v2/metadefs/resource_types", rule: "image:get_metadef") { _ in
            .json(.ok, ["resource_types": .array(try await db.read { try await MetadefResourceTypes.all(in: $0) })])
        }
        r.get(base, rule: "image:get_metadef") { call in
            let all = try await db.read { try await Namespace.all(in: $0) }
            let visible = all.filter { $0.visibleTo(call) }
            return .json(.ok, ["namespaces": .array(visible.map { $0.json() }), "first": .string(base), "schema": "/v2/schemas/metadefs/namespaces"])
        }
        r.post(base, rule: "image:manage_metadef") { call in
            let f = try JSONFields(try await call.body(), path: "")
            var ns = Namespace(name: try Namespace.name(f, "namespace"), owner: call.auth.projectID, body: [:])
            try ns.apply(f, creating: true)
            for association in try f.objects("resource_type_associations") ?? [] { try ns.associate(association) }
            for object in try f.objects("objects") ?? [] { try ns.setObject(object, replacing: nil) }
            if let properties = try f.object("properties") {
                for (name, value) in properties.members { try ns.setProperty(try JSONFields(value, path: "properties.\(name)"), name: name, replacing: nil) }
            }
            for tag in try f.objects("tags") ?? [] { try ns.addTag(try Namespace.name(tag, "name")) }
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
            try await db.transaction { try await Namespace.delete(ns.name, in: $0) }
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
            try await modify(call, status: .created) { ns, f in try ns.setProperty(f, name: try Namespace.name(f, "name"), replacing: nil) }
        }
        r.get("\(base)/:namespace/properties/:name", rule: "image:get_metadef") { call in
            .json(.ok, try await member(call, "properties"))
        }
        r.put("\(base)/:namespace/properties/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            return try await modify(call) { ns, f in try ns.setProperty(f, name: try Namespace.name(f, "name"), replacing: name) }
        }
        r.delete("\(base)/:namespace/properties/:name", rule: "image:manage_metadef") { call in
            try await removeMember(call, "properties")
        }
        r.get("\(base)/:namespace/tags", rule: "image:get_metadef") { call in
            .json(.ok, ["tags": .array(try await load(call).members("tags").values.sorted { $0.text < $1.text })])
        }
        r.post("\(base)/:namespace/tags", rule: "image:manage_metadef") { call in
            // Glance replaces the namespace's tags unless `X-OpenStack-Append: True` says to add to them.
            let append = call.request.header("X-OpenStack-Append")?.lowercased() == "true"
            return try await modify(call, status: .created) { ns, f in
                if !append { ns.body["tags"] = [:] }
                for tag in try f.objects("tags") ?? [] { try ns.addTag(try Namespace.name(tag, "name")) }
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
                return try ns.addTag(try Namespace.name(f, "name"))
            }
        }
        r.delete("\(base)/:namespace/tags/:name", rule: "image:manage_metadef") { call in
            try await removeMember(call, "tags")
        }
        r.get("\(base)/:namespace/resource_types", rule: "image:get_metadef") { call in
            .json(.ok, ["resource_type_associations": (try await load(call)).body["resource_type_associations"] ?? []])
        }
        r.post("\(base)/:namespace/resource_types", rule: "image:manage_metadef") { call in
            try await modify(call, status: .created) { ns, f in
                try MetadefResourceTypes.checkAssociationBody(f)
                return try ns.associate(f)
            }
        }
        r.delete("\(base)/:namespace/resource_types/:name", rule: "image:manage_metadef") { call in
            let name = try call.param("name")
            _ = try await modify(call, readsBody: false) { ns, _ in
                let associations = ns.body["resource_type_associations"]?.array ?? []
                guard associations.contains(where: { $0["name"]?.stringValue == name }) else {
                    throw APIError.notFound("Failed to find resource type \(name) to delete")
                }
                guard !ns.protected else {
                    throw APIError.forbidden("Metadata definition resource-type-association \(name) is protected and cannot be deleted.")
                }
                ns.body["resource_type_associations"] = .array(associations.filter { $0["name"]?.stringValue != name })
                return [:]
            }
            return .empty()
        }
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
                try await Namespace.delete(original.name, in: db)
                try await ns.save(in: db, new: true)
            } else {
                try await ns.save(in: db, new: false)
            }
            return body
        }
        return .json(status, result)
    }
}
