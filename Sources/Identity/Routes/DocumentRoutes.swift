import Foundation
import Hummingbird
import MartletCore

/// Endpoint groups (OS-EP-FILTER) and OAuth consumers (OS-OAUTH1): small resources kept whole.
struct DocumentRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    struct Kind {
        let kind: DocumentKind
        let path: String
        let singular: String
        let plural: String
        let rulePrefix: String
        /// Attributes shown only in the create response.
        let secret: String?
    }

    static let endpointGroups = Kind(kind: .endpointGroup, path: "/v3/OS-EP-FILTER/endpoint_groups", singular: "endpoint_group",
                                     plural: "endpoint_groups", rulePrefix: "endpoint_group", secret: nil)
    static let consumers = Kind(kind: .consumer, path: "/v3/OS-OAUTH1/consumers", singular: "consumer",
                                plural: "consumers", rulePrefix: "consumer", secret: "secret")

    func register(_ r: PolicyRouter) {
        for kind in [Self.endpointGroups, Self.consumers] { register(r, kind) }
    }

    private func register(_ r: PolicyRouter, _ k: Kind) {
        let link = { @Sendable (id: String) -> JSON in ["self": .string("\(store.linkBase)\(k.path.dropFirst(3))/\(id)")] }
        @Sendable func render(_ id: String, _ body: [String: JSON]) -> JSON {
            JSON.object(body).merging(["id": .string(id), "links": link(id)])
        }
        @Sendable func load(_ call: APICall) async throws -> (String, [String: JSON]) {
            let id = try call.param("id")
            guard var body = try await store.document(k.kind, id) else { throw APIError.notFound("Could not find \(k.singular): \(id).") }
            if let secret = k.secret { body[secret] = nil }
            return (id, body)
        }
        @Sendable func fields(_ call: APICall) async throws -> [String: JSON] {
            let f = try JSONFields.body(try await call.body(), wrapper: k.singular)
            _ = try f.string("name", maxLength: 255)
            _ = try f.string("description", nullable: true)
            if k.kind == .endpointGroup, let filters = try f.object("filters") {
                // Keystone filters endpoints by these attributes only.
                if let bad = filters.members.keys.first(where: { !EndpointFilter.filterKeys.contains($0) }) {
                    throw APIError.badRequest("Invalid input for field 'endpoint_group.filters': \(bad) is not one of service_id, region_id or interface.")
                }
            }
            return f.extras(excluding: ["id", "links"])
        }
        r.get(k.path, rule: "identity:list_\(k.rulePrefix)s") { _ in
            let list = try await store.documents(k.kind).map { doc -> JSON in
                var body = doc.body
                if let secret = k.secret { body[secret] = nil }
                return render(doc.id, body)
            }
            return .json(.ok, [k.plural: .array(list), "links": store.collectionLinks(String(k.path.dropFirst(4)))])
        }
        r.post(k.path, rule: "identity:create_\(k.rulePrefix)") { call in
            var body = try await fields(call)
            if k.kind == .endpointGroup, body["name"] == nil { throw APIError.badRequest("Invalid input for field 'endpoint_group.name': the field is required.") }
            if k.kind == .endpointGroup, body["filters"]?.objectValue?.isEmpty != false {
                throw APIError.badRequest("Invalid input for field 'endpoint_group.filters': the field is required and cannot be empty.")
            }
            if let secret = k.secret { body[secret] = .string(TokenCodec.newAuditID()) }
            if body["description"] == nil { body["description"] = nil }
            let id = Identifier.hex()
            try await store.putDocument(k.kind, id, body)
            return .json(.created, [k.singular: render(id, body)])
        }
        r.getAndHead("\(k.path)/:id", rule: "identity:get_\(k.rulePrefix)") { call in
            let (id, body) = try await load(call)
            return .json(.ok, [k.singular: render(id, body)])
        }
        r.patch("\(k.path)/:id", rule: "identity:update_\(k.rulePrefix)") { call in
            let id = try call.param("id")
            guard let stored = try await store.document(k.kind, id) else { throw APIError.notFound("Could not find \(k.singular): \(id).") }
            let updated = stored.merging(try await fields(call)) { _, new in new }
            try await store.putDocument(k.kind, id, updated)
            var shown = updated
            if let secret = k.secret { shown[secret] = nil }
            return .json(.ok, [k.singular: render(id, shown)])
        }
        r.delete("\(k.path)/:id", rule: "identity:delete_\(k.rulePrefix)") { call in
            let (id, _) = try await load(call)
            // An endpoint group goes with its project associations.
            if k.kind == .endpointGroup { try await store.deleteEndpointGroup(id) } else { try await store.deleteDocument(k.kind, id) }
            return .empty()
        }
    }
}

/// `/v3/domains/{id}/config`: per-domain driver settings, by group (`identity`, `ldap`) and option.
struct DomainConfigRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let defaults: [String: JSON] = [
        "identity": ["driver": "sql", "list_limit": nil],
        "ldap": ["url": "ldap://localhost", "user": nil, "suffix": "cn=example,cn=com", "user_tree_dn": nil, "group_tree_dn": nil],
    ]

    func register(_ r: PolicyRouter) {
        r.get("/v3/domains/config/default", rule: "identity:get_domain_config_default") { _ in
            .json(.ok, ["config": .object(Self.defaults)])
        }
        r.get("/v3/domains/config/:group/default", rule: "identity:get_domain_config_default") { call in
            let group = try call.param("group")
            guard let value = Self.defaults[group] else { throw APIError.notFound("Invalid domain config group: \(group).") }
            return .json(.ok, ["config": [group: value]])
        }
        r.get("/v3/domains/config/:group/:option/default", rule: "identity:get_domain_config_default") { call in
            let group = try call.param("group"), option = try call.param("option")
            guard let value = Self.defaults[group]?[option] else { throw APIError.notFound("Invalid domain config option: \(group).\(option).") }
            return .json(.ok, ["config": [option: value]])
        }

        let base = "/v3/domains/:domain_id/config"
        r.put(base, rule: "identity:create_domain_config") { call in
            let domain = try await store.requireDomain(try call.param("domain_id"))
            let config = try Self.validated(try await call.body())
            let existed = try await store.document(.domainConfig, domain.id) != nil
            try await store.putDocument(.domainConfig, domain.id, config)
            return .json(existed ? .ok : .created, ["config": .object(config)])
        }
        r.get(base, rule: "identity:get_domain_config") { call in
            .json(.ok, ["config": .object(try await config(call))])
        }
        r.patch(base, rule: "identity:update_domain_config") { call in
            var current = try await config(call)
            for (group, options) in try Self.validated(try await call.body()) {
                current[group] = (current[group] ?? [:]).merging(options.objectValue ?? [:])
            }
            try await store.putDocument(.domainConfig, try call.param("domain_id"), current)
            return .json(.ok, ["config": .object(current)])
        }
        r.delete(base, rule: "identity:delete_domain_config") { call in
            _ = try await config(call)
            try await store.deleteDocument(.domainConfig, try call.param("domain_id"))
            return .empty()
        }
        r.get("\(base)/:group", rule: "identity:get_domain_config") { call in
            let group = try call.param("group")
            guard let value = try await config(call)[group] else { throw APIError.notFound("Could not find domain config group: \(group).") }
            return .json(.ok, ["config": [group: value]])
        }
        r.patch("\(base)/:group", rule: "identity:update_domain_config") { call in
            let group = try call.param("group")
            var current = try await config(call)
            guard current[group] != nil else { throw APIError.notFound("Could not find domain config group: \(group).") }
            let body = try Self.validated(try await call.body())
            guard let options = body[group]?.objectValue, body.count == 1 else {
                throw APIError.badRequest("Invalid input for field 'config': expected only the group \(group).")
            }
            current[group] = (current[group] ?? [:]).merging(options)
            try await store.putDocument(.domainConfig, try call.param("domain_id"), current)
            return .json(.ok, ["config": .object(current)])
        }
        r.delete("\(base)/:group", rule: "identity:delete_domain_config") { call in
            let group = try call.param("group")
            var current = try await config(call)
            guard current.removeValue(forKey: group) != nil else { throw APIError.notFound("Could not find domain config group: \(group).") }
            try await store.putDocument(.domainConfig, try call.param("domain_id"), current)
            return .empty()
        }
        r.get("\(base)/:group/:option", rule: "identity:get_domain_config") { call in
            let group = try call.param("group"), option = try call.param("option")
            guard let value = try await config(call)[group]?[option] else { throw APIError.notFound("Could not find domain config option: \(group).\(option).") }
            return .json(.ok, ["config": [option: value]])
        }
        r.patch("\(base)/:group/:option", rule: "identity:update_domain_config") { call in
            let group = try call.param("group"), option = try call.param("option")
            var current = try await config(call)
            guard var options = current[group]?.objectValue, options[option] != nil else {
                throw APIError.notFound("Could not find domain config option: \(group).\(option).")
            }
            let body = try JSONFields(try await call.body(), path: "")
            guard let value = try body.object("config")?.members[option], try body.object("config")?.members.count == 1 else {
                throw APIError.badRequest("Invalid input for field 'config': expected only the option \(option).")
            }
            options[option] = value
            current[group] = .object(options)
            try await store.putDocument(.domainConfig, try call.param("domain_id"), current)
            return .json(.ok, ["config": .object(current)])
        }
        r.delete("\(base)/:group/:option", rule: "identity:delete_domain_config") { call in
            let group = try call.param("group"), option = try call.param("option")
            var current = try await config(call)
            guard var options = current[group]?.objectValue, options.removeValue(forKey: option) != nil else {
                throw APIError.notFound("Could not find domain config option: \(group).\(option).")
            }
            current[group] = .object(options)
            try await store.putDocument(.domainConfig, try call.param("domain_id"), current)
            return .empty()
        }
    }

    private func config(_ call: APICall) async throws -> [String: JSON] {
        let domain = try await store.requireDomain(try call.param("domain_id"))
        guard let config = try await store.document(.domainConfig, domain.id) else {
            throw APIError.notFound("Could not find domain config for domain \(domain.id).")
        }
        return config
    }

    /// `{"config": {group: {option: value}}}` with only the groups Keystone accepts.
    static func validated(_ body: JSON) throws -> [String: JSON] {
        guard let config = try JSONFields(body, path: "").object("config") else {
            throw APIError.badRequest("Invalid input for field 'config': the field is required.")
        }
        for (group, options) in config.members {
            guard defaults[group] != nil else { throw APIError.forbidden("Invalid domain specific configuration: group \(group) is not supported.") }
            guard options.objectValue != nil else { throw APIError.badRequest("Invalid input for field 'config.\(group)': expected an object.") }
        }
        return config.members
    }
}
