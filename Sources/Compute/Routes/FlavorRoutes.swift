import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// `/flavors` with extra specs and access lists.
struct FlavorRoutes {
    let service: ComputeService
    var flavors: FlavorStore { service.flavors }

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/flavors", rule: "os_compute_api:flavors:index") { try await list($0, detail: false) }
        r.get("/v2.1/flavors/detail", rule: "os_compute_api:flavors:index") { try await list($0, detail: true) }
        r.get("/v2.1/flavors/:flavor_id", rule: "os_compute_api:flavors:index") { call in
            .json(.ok, ["flavor": try await visible(call).json(service.version(call), links: service.links)])
        }
        r.post("/v2.1/flavors", rule: "os_compute_api:os-flavor-manage:create") { try await create($0) }
        r.put("/v2.1/flavors/:flavor_id", rule: "os_compute_api:os-flavor-manage:update") { call in
            guard service.version(call) >= Microversion(2, 55) else { throw APIError(.methodNotAllowed, "Updating a flavor needs microversion 2.55.") }
            let f = try JSONFields.body(try await call.body(), wrapper: "flavor")
            guard f.has("description") else { throw APIError.badRequest("Invalid input for field/attribute flavor: 'description' is a required property") }
            let description = try f.string("description", maxLength: 65535, nullable: true)
            let flavor = try await service.db.transaction { db -> Flavor in
                guard var flavor = try await flavors.get(try call.param("flavor_id"), in: db) else { throw ComputeFault.flavorNotFound(try call.param("flavor_id")) }
                flavor.description = description
                try await flavors.update(flavor, in: db)
                return flavor
            }
            return .json(.ok, ["flavor": flavor.json(service.version(call), links: service.links)])
        }
        r.delete("/v2.1/flavors/:flavor_id", rule: "os_compute_api:os-flavor-manage:delete") { call in
            let id = try call.param("flavor_id")
            try await service.db.transaction { db in
                guard try await flavors.get(id, in: db) != nil else { throw ComputeFault.flavorNotFound(id) }
                try await db.raw("DELETE FROM cmp_flavor_access WHERE flavor_id = \(bind: id)").run()
                try await db.raw("DELETE FROM cmp_flavors WHERE id = \(bind: id)").run()
            }
            return .empty(.accepted)
        }
        registerExtraSpecs(r)
        registerAccess(r)
    }

    /// A flavor the caller may see (private ones only with access), else 404.
    private func visible(_ call: APICall) async throws -> Flavor {
        let id = try call.param("flavor_id")
        return try await service.db.read { db in
            guard let flavor = try await flavors.get(id, in: db),
                  try await flavors.visible(flavor, project: call.auth.projectID, isAdmin: call.isComputeAdmin, in: db) else {
                throw ComputeFault.flavorNotFound(id)
            }
            return flavor
        }
    }

    private func list(_ call: APICall, detail: Bool) async throws -> Response {
        try service.checkQuery(call, allowed: ["is_public", "minRam", "minDisk", "limit", "marker", "sort_key", "sort_dir"])
        let q = call.queryItems
        let isAdmin = call.isComputeAdmin
        var isPublic: Bool? = true
        if isAdmin, let p = q["is_public"] {
            switch p.lowercased() {
            case "none": isPublic = nil
            case "true", "1", "yes", "t", "on": isPublic = true
            case "false", "0", "no", "f", "off": isPublic = false
            default: throw APIError.badRequest("Invalid is_public filter [\(p)]")
            }
        }
        func number(_ key: String) throws -> Int? {
            guard let text = q[key] else { return nil }
            guard let n = Int(text), n >= 0 else { throw APIError.badRequest("Invalid \(key) filter [\(text)]") }
            return n
        }
        let minRam = try number("minRam"), minDisk = try number("minDisk")
        let limit = try Pagination.limit(q["limit"], max: 1000, invalid: ComputeFault.invalidLimit)
        let sortKey = q["sort_key"] ?? "flavorid"
        let ascending = (q["sort_dir"] ?? "asc") != "desc"
        let keys: [String: (Flavor, Flavor) -> Bool] = [
            "flavorid": { $0.id < $1.id }, "id": { $0.id < $1.id }, "name": { $0.name < $1.name },
            "memory_mb": { $0.ram < $1.ram }, "vcpus": { $0.vcpus < $1.vcpus }, "root_gb": { $0.disk < $1.disk },
            "ephemeral_gb": { $0.ephemeral < $1.ephemeral }, "swap": { $0.swap < $1.swap }, "created_at": { $0.createdAt < $1.createdAt },
        ]
        guard let less = keys[sortKey] else { throw APIError.badRequest("Invalid sort_key: \(sortKey)") }
        let (all, granted) = try await service.db.read { db in
            (try await flavors.all(in: db), try await call.auth.projectID.asyncFlatMap { try await flavors.granted(to: $0, in: db) } ?? [])
        }
        var chosen = all.filter { f in
            if !isAdmin && f.disabled { return false }
            if let isPublic {
                if isPublic && !f.isPublic && !granted.contains(f.id) { return false }
                if !isPublic && f.isPublic { return false }
            }
            if let minRam, f.ram < minRam { return false }
            if let minDisk, f.disk < minDisk { return false }
            return true
        }
        chosen.sort { a, b in less(a, b) ? ascending : less(b, a) ? !ascending : a.id < b.id }
        let after = try Pagination.after(q["marker"], in: chosen, id: \.id, notFound: ComputeFault.markerNotFound)
        // Without a limit, a page of Nova's max_limit (1000), and no link to more.
        let page = Pagination.page(after, limit: limit ?? 1000)
        let v = service.version(call)
        var body: [String: JSON] = ["flavors": .array(page.items.map { detail ? $0.json(v, links: service.links) : $0.summary(v, links: service.links) })]
        if limit != nil, page.hasMore, let last = page.items.last {
            body["flavors_links"] = service.links.next(path: detail ? "flavors/detail" : "flavors", marker: last.id, query: q)
        }
        return .json(.ok, .object(body))
    }

    private func create(_ call: APICall) async throws -> Response {
        let v = service.version(call)
        let f = try JSONFields.body(try await call.body(), wrapper: "flavor")
        var known: Set<String> = ["name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor", "os-flavor-access:is_public"]
        if v >= Microversion(2, 55) { known.insert("description") }
        if let extra = f.members.keys.first(where: { !known.contains($0) }) {
            throw APIError.badRequest("Invalid input for field/attribute flavor. Additional properties are not allowed ('\(extra)' was unexpected)")
        }
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        guard name.trimmingCharacters(in: .whitespaces) == name, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError.badRequest("Invalid input for field/attribute name. Value: \(name). Leading and trailing spaces are not allowed.")
        }
        var id: String
        switch f.members["id"] {
        case nil, .null?: id = Identifier.uuid()
        case .string(let s)?:
            guard !s.isEmpty, s.count <= 255, s.range(of: "^(?! )[a-zA-Z0-9. _-]+(?<! )$", options: .regularExpression) != nil else {
                throw APIError.badRequest("Invalid input for field/attribute id. Value: \(s). It must match the flavor id pattern.")
            }
            id = s == "auto" ? Identifier.uuid() : s
        case .int(let n)?: id = String(n)
        default: throw APIError.badRequest("Invalid input for field/attribute id: expected a string.")
        }
        func integer(_ key: String, min: Int, required: Bool) throws -> Int? {
            guard let value = f.members[key] else {
                if required { throw APIError.badRequest("Invalid input for field/attribute flavor. Value: \(key). '\(key)' is a required property") }
                return nil
            }
            let n: Int?
            switch value {
            case .int(let i): n = Int(exactly: i)
            case .string(let s): n = Int(s.trimmingCharacters(in: .whitespaces))
            default: n = nil
            }
            guard let n, n >= min, n <= Int(Int32.max) else {
                throw APIError.badRequest("Invalid input for field/attribute \(key). Value: \(value.text). It must be an integer between \(min) and \(Int32.max).")
            }
            return n
        }
        let ram = try integer("ram", min: 1, required: true)!
        let vcpus = try integer("vcpus", min: 1, required: true)!
        let disk = try integer("disk", min: 0, required: true)!
        let ephemeral = try integer("OS-FLV-EXT-DATA:ephemeral", min: 0, required: false) ?? 0
        let swap = try integer("swap", min: 0, required: false) ?? 0
        var rxtx = 1.0
        if let value = f.members["rxtx_factor"] {
            switch value {
            case .int(let i): rxtx = Double(i)
            case .double(let d): rxtx = d
            case .string(let s): rxtx = Double(s) ?? -1
            default: rxtx = -1
            }
            guard rxtx > 0, rxtx <= 3.4e38 else { throw APIError.badRequest("Invalid input for field/attribute rxtx_factor. Value: \(value.text).") }
        }
        var isPublic = true
        if let value = f.members["os-flavor-access:is_public"] {
            switch value {
            case .bool(let b): isPublic = b
            case .string(let s) where ["true", "false", "1", "0"].contains(s.lowercased()): isPublic = ["true", "1"].contains(s.lowercased())
            default: throw APIError.badRequest("Invalid input for field/attribute os-flavor-access:is_public. Value: \(value.text).")
            }
        }
        let flavor = Flavor(id: id, name: name, ram: ram, vcpus: vcpus, disk: disk, ephemeral: ephemeral, swap: swap, rxtxFactor: rxtx,
                            isPublic: isPublic, disabled: false, description: try f.string("description", maxLength: 65535, nullable: true),
                            extraSpecs: [:], createdAt: Date().timeIntervalSince1970)
        try await service.db.transaction { db in
            if try await flavors.get(id, in: db) != nil { throw APIError.conflict("Flavor with ID \(id) already exists.") }
            if try await db.raw("SELECT 1 AS one FROM cmp_flavors WHERE name = \(bind: name)").first() != nil {
                throw APIError.conflict("Flavor with name \(name) already exists.")
            }
            try await flavors.insert(flavor, in: db)
        }
        return .json(.ok, ["flavor": flavor.json(v, links: service.links)])
    }

    // MARK: Extra specs

    private func registerExtraSpecs(_ r: PolicyRouter) {
        r.get("/v2.1/flavors/:flavor_id/os-extra_specs", rule: "os_compute_api:os-flavor-extra-specs:index") { call in
            .json(.ok, ["extra_specs": .object(try await visible(call).extraSpecs.mapValues { .string($0) })])
        }
        r.get("/v2.1/flavors/:flavor_id/os-extra_specs/:key", rule: "os_compute_api:os-flavor-extra-specs:index") { call in
            let key = try call.param("key")
            guard let value = try await visible(call).extraSpecs[key] else {
                throw APIError.notFound("Flavor \(try call.param("flavor_id")) has no extra specs with key \(key).")
            }
            return .json(.ok, .object([key: .string(value)]))
        }
        r.post("/v2.1/flavors/:flavor_id/os-extra_specs", rule: "os_compute_api:os-flavor-extra-specs:manage") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "extra_specs")
            let specs = try Self.specs(f.members, version: service.version(call))
            try await editSpecs(call) { $0.merge(specs) { _, new in new } }
            return .json(.ok, ["extra_specs": .object(specs.mapValues { .string($0) })])
        }
        r.put("/v2.1/flavors/:flavor_id/os-extra_specs/:key", rule: "os_compute_api:os-flavor-extra-specs:manage") { call in
            let key = try call.param("key")
            guard case .object(let body) = try await call.body() else { throw APIError.badRequest("The request body must be an object.") }
            guard body.count == 1 else { throw APIError.badRequest("Request body contains too many items") }
            guard body[key] != nil else { throw APIError.badRequest("Request body and URI mismatch") }
            let specs = try Self.specs(body, version: service.version(call))
            try await editSpecs(call) { $0.merge(specs) { _, new in new } }
            return .json(.ok, .object(specs.mapValues { .string($0) }))
        }
        r.delete("/v2.1/flavors/:flavor_id/os-extra_specs/:key", rule: "os_compute_api:os-flavor-extra-specs:manage") { call in
            let key = try call.param("key")
            try await editSpecs(call) { specs in
                guard specs.removeValue(forKey: key) != nil else {
                    throw APIError.notFound("Flavor \((try? call.param("flavor_id")) ?? "") has no extra specs with key \(key).")
                }
            }
            return .empty(.ok)
        }
    }

    private func editSpecs(_ call: APICall, _ edit: @Sendable (inout [String: String]) throws -> Void) async throws {
        let id = try call.param("flavor_id")
        try await service.db.transaction { db in
            guard var flavor = try await flavors.get(id, in: db) else { throw ComputeFault.flavorNotFound(id) }
            try edit(&flavor.extraSpecs)
            try await flavors.update(flavor, in: db)
        }
    }

    static func specs(_ members: [String: JSON], version: Microversion) throws -> [String: String] {
        var specs: [String: String] = [:]
        for (key, value) in members {
            guard !key.isEmpty, key.count <= 255, key.range(of: "^[\\w.\\-: ]+$", options: .regularExpression) != nil else {
                throw APIError.badRequest("Invalid input for field/attribute extra_specs. Key '\(key)' is not valid.")
            }
            switch value {
            case .string(let s) where s.count <= 255: specs[key] = s
            case .int(let i): specs[key] = String(i)
            case .bool(let b): specs[key] = b ? "True" : "False"
            case .double(let d): specs[key] = String(d)
            default: throw APIError.badRequest("Invalid input for field/attribute extra_specs. Value of '\(key)' must be a string of at most 255 characters.")
            }
            if version >= Microversion(2, 86) { try ExtraSpecValidator.check(key, specs[key] ?? "") }
        }
        return specs
    }

    // MARK: Access

    private func registerAccess(_ r: PolicyRouter) {
        r.get("/v2.1/flavors/:flavor_id/os-flavor-access", rule: "os_compute_api:os-flavor-access") { call in
            let id = try call.param("flavor_id")
            let projects = try await service.db.read { db -> [String] in
                guard let flavor = try await flavors.get(id, in: db) else { throw ComputeFault.flavorNotFound(id) }
                if flavor.isPublic { throw APIError.notFound("Access list not available for public flavors.") }
                return try await flavors.projects(id, in: db)
            }
            return .json(.ok, ["flavor_access": .array(projects.map { ["flavor_id": .string(id), "tenant_id": .string($0)] })])
        }
        r.post("/v2.1/flavors/:flavor_id/action", rule: "os_compute_api:os-flavor-access") { call in
            let id = try call.param("flavor_id")
            guard case .object(let members) = try await call.body(), members.count == 1, let (name, value) = members.first,
                  ["addTenantAccess", "removeTenantAccess"].contains(name) else {
                throw APIError.badRequest("Invalid flavor action: use addTenantAccess or removeTenantAccess.")
            }
            let tenant = try JSONFields(value, path: name).requiredString("tenant", maxLength: 255)
            let projects = try await service.db.transaction { db -> [String] in
                guard let flavor = try await flavors.get(id, in: db) else { throw ComputeFault.flavorNotFound(id) }
                if flavor.isPublic { throw APIError.conflict("Can not add access to a public flavor.") }
                let has = try await flavors.projects(id, in: db).contains(tenant)
                if name == "addTenantAccess" {
                    if has { throw APIError.conflict("Flavor access already exists for flavor \(id) and project \(tenant) combination.") }
                    try await db.raw("INSERT INTO cmp_flavor_access (flavor_id, project_id) VALUES (\(bind: id), \(bind: tenant))").run()
                } else {
                    if !has { throw APIError.notFound("Flavor access not found for \(id) / \(tenant) combination.") }
                    try await db.raw("DELETE FROM cmp_flavor_access WHERE flavor_id = \(bind: id) AND project_id = \(bind: tenant)").run()
                }
                return try await flavors.projects(id, in: db)
            }
            return .json(.ok, ["flavor_access": .array(projects.map { ["flavor_id": .string(id), "tenant_id": .string($0)] })])
        }
    }
}
