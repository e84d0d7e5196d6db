import Hummingbird
import MartletCore

/// `/group_types` (3.11): kinds of generic groups and their specs, managed by admins.
struct GroupTypeRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/group_types", rule: "group:group_types:show") { call in
            try call.require(3, 11)
            var types = try await store.db.read { try await store.groupTypes(in: $0) }
            if !call.isAdmin { types.removeAll { !$0.isPublic } }
            if let wanted = call.query("is_public").flatMap({ try? VolumeInput.bool(.string($0), field: "is_public") }), call.isAdmin {
                types.removeAll { $0.isPublic != wanted }
            }
            SortOrder.sort(&types, by: try SortOrder.parse(call, allowed: ["id", "name", "description", "is_public", "created_at"]), id: \.id) { t, key in
                switch key {
                case "id": .text(t.id)
                case "name": .text(t.name)
                case "description": .text(t.description ?? "")
                case "is_public": .number(t.isPublic ? 1 : 0)
                default: .number(t.createdAt)
                }
            }
            return .json(.ok, ["group_types": .array(types.map { view($0, call) })])
        }
        r.get("/v3/group_types/default", rule: "group:group_types:show") { call in
            try call.require(3, 11)
            guard let type = try await store.db.read({ try await store.groupTypes(in: $0) }).first(where: { $0.name == GroupType.defaultName }) else {
                throw APIError.notFound("Default group type could not be found.")
            }
            return .json(.ok, ["group_type": view(type, call)])
        }
        r.get("/v3/group_types/:group_type_id", rule: "group:group_types:show") { call in
            .json(.ok, ["group_type": view(try await visibleType(call), call)])
        }
        r.post("/v3/group_types", rule: "group:group_types:manage") { call in
            try call.require(3, 11)
            let body = try VolumeInput.body(try await call.body(), "group_type")
            guard let name = try VolumeInput.text(body["name"], field: "name"), !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw BlockStorageFault.invalidInput("Group type name can not be empty.")
            }
            let type = GroupType(id: Identifier.uuid(), name: name, description: try VolumeInput.text(body["description"], field: "description"),
                                 isPublic: try VolumeInput.bool(body["is_public"], field: "is_public") ?? true,
                                 groupSpecs: try VolumeInput.metadata(body["group_specs"], field: "group_specs") ?? [:], createdAt: BlockStorageStore.now())
            try await store.db.transaction { db in
                guard try await store.groupTypes(in: db).allSatisfy({ $0.name != name }) else {
                    throw APIError.conflict("Group Type \(name) already exists.")
                }
                try await store.save(type, in: db)
            }
            return .json(.accepted, ["group_type": view(type, call)])
        }
        r.put("/v3/group_types/:group_type_id", rule: "group:group_types:manage") { call in
            let type = try await visibleType(call)
            let body = try VolumeInput.body(try await call.body(), "group_type")
            let name = try VolumeInput.text(body["name"], field: "name")
            if let name, name.trimmingCharacters(in: .whitespaces).isEmpty { throw BlockStorageFault.invalidInput("Group type name can not be empty.") }
            let description = try VolumeInput.text(body["description"], field: "description")
            let isPublic = try VolumeInput.bool(body["is_public"], field: "is_public")
            let updated = try await edit(type.id) { t in
                if let name { t.name = name }
                if body["description"] != nil { t.description = description }
                if let isPublic { t.isPublic = isPublic }
            }
            return .json(.ok, ["group_type": view(updated, call)])
        }
        r.delete("/v3/group_types/:group_type_id", rule: "group:group_types:manage") { call in
            let type = try await visibleType(call)
            try await store.db.transaction { db in
                let groups: [VolumeGroup] = try await store.groupDocs(.groups, projectID: nil, in: db)
                guard !groups.contains(where: { $0.groupTypeID == type.id }) else {
                    throw BlockStorageFault.invalidInput("Target group type \(type.id) is still in use.")
                }
                try await store.deleteGroupDoc(.types, type.id, in: db)
            }
            return .empty(.accepted)
        }
        registerSpecs(r)
    }

    private func registerSpecs(_ r: PolicyRouter) {
        let base = "/v3/group_types/:group_type_id/group_specs"
        r.get(base, rule: "group:group_types_specs") { call in
            .json(.ok, ["group_specs": Views.strings(try await visibleType(call).groupSpecs)])
        }
        r.post(base, rule: "group:group_types_specs") { call in
            let type = try await visibleType(call)
            let specs = try await VolumeInput.metadataBody(call, "group_specs")
            _ = try await edit(type.id) { $0.groupSpecs.merge(specs) { _, new in new } }
            return .json(.accepted, ["group_specs": Views.strings(specs)])
        }
        r.get("\(base)/:key", rule: "group:group_types_specs") { call in
            let key = try call.param("key")
            guard let value = try await visibleType(call).groupSpecs[key] else {
                throw APIError.notFound("Group type \(try call.param("group_type_id")) has no specs with key \(key).")
            }
            return .json(.ok, [key: .string(value)])
        }
        r.put("\(base)/:key", rule: "group:group_types_specs") { call in
            let type = try await visibleType(call)
            let key = try call.param("key")
            guard case .object(let body) = try await call.body(), body.count == 1, let value = body[key]?.stringValue else {
                throw BlockStorageFault.invalidInput("Request body and URI mismatch")
            }
            _ = try await edit(type.id) { $0.groupSpecs[key] = value }
            return .json(.ok, [key: .string(value)])
        }
        r.delete("\(base)/:key", rule: "group:group_types_specs") { call in
            let type = try await visibleType(call)
            let key = try call.param("key")
            guard type.groupSpecs[key] != nil else { throw APIError.notFound("Group type \(type.id) has no specs with key \(key).") }
            _ = try await edit(type.id) { $0.groupSpecs.removeValue(forKey: key) }
            return .empty(.accepted)
        }
    }

    private func visibleType(_ call: APICall) async throws -> GroupType {
        try call.require(3, 11)
        let id = try call.param("group_type_id")
        guard let type: GroupType = try await store.groupDoc(.types, id), type.isPublic || call.isAdmin else {
            throw APIError.notFound("Group type \(id) could not be found.")
        }
        return type
    }

    private func edit(_ id: String, _ change: @escaping @Sendable (inout GroupType) throws -> Void) async throws -> GroupType {
        try await store.db.transaction { db in
            guard var type: GroupType = try await store.groupDoc(.types, id, in: db) else { throw APIError.notFound("Group type \(id) could not be found.") }
            try change(&type)
            try await store.save(type, in: db)
            return type
        }
    }

    /// Specs are shown to admins only, as Cinder's policy has it.
    private func view(_ t: GroupType, _ call: APICall) -> JSON {
        var b: [String: JSON] = ["id": .string(t.id), "name": .string(t.name), "description": JSON(t.description), "is_public": .bool(t.isPublic)]
        if call.isAdmin { b["group_specs"] = Views.strings(t.groupSpecs) }
        return .object(b)
    }
}
