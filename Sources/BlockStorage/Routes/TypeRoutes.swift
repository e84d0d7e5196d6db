import Foundation
import Hummingbird
import MartletCore

/// `/types`: volume types, their extra specs and, for private types, which projects may use them.
struct TypeRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }
    var views: Views { Views(service: service) }

    func register(_ r: PolicyRouter) {
        r.get("/v3/types", rule: "volume_extension:type_get_all") { call in
            let wantPublic = call.query("is_public").flatMap { ["true", "1", "True"].contains($0) ? true : (["false", "0", "False"].contains($0) ? false : nil) }
            var types = try await store.db.read { try await store.types(in: $0) }.filter { usable($0, call) }
            // 3.52: filters checked as the lists' are, and types by their extra specs.
            if call.requestedVersion >= Microversion(3, 52) {
                try ResourceFilters.check(call, "volume_type")
                if let raw = call.query("extra_specs") {
                    let wanted = try VolumeRoutes.dictionaryFilter(raw, "extra_specs")
                    types.removeAll { t in wanted.contains { t.extraSpecs[$0.key] != $0.value } }
                }
            }
            if call.isAdmin {
                // Admins see public types by default, private ones when asking for them, both with `is_public=None`.
                if call.query("is_public")?.lowercased() != "none" { types.removeAll { $0.isPublic != (wantPublic ?? true) } }
            }
            return .json(.ok, ["volume_types": .array(types.map { views.type($0) })])
        }
        r.get("/v3/types/default", rule: "volume_extension:type_get") { call in
            guard let type = try await store.db.read({ try await store.defaultType(projectID: call.auth.projectID, in: $0) }) else {
                throw APIError.notFound("Default volume type can not be found.")
            }
            return .json(.ok, ["volume_type": views.type(type)])
        }
        r.get("/v3/types/:type_id", rule: "volume_extension:type_get") { call in
            .json(.ok, ["volume_type": views.type(try await visibleType(call))])
        }
        r.post("/v3/types", rule: "volume_extension:types_manage") { try await create($0) }
        r.put("/v3/types/:type_id", rule: "volume_extension:types_manage") { try await update($0) }
        r.delete("/v3/types/:type_id", rule: "volume_extension:types_manage") { call in
            let type = try await visibleType(call)
            guard type.name != VolumeType.defaultName else { throw APIError.badRequest("Default volume type can not be deleted.") }
            try await store.db.transaction { db in
                guard try await !store.isSomeProjectsDefault(typeID: type.id, in: db) else {
                    throw APIError.badRequest("The volume type \(type.id) is a default volume type and cannot be deleted.")
                }
                guard try await !store.typeInUse(type.id, in: db) else { throw APIError.badRequest("Target volume type is still in use.") }
                try await store.deleteType(type.id, in: db)
            }
            return .empty(.accepted)
        }
        registerExtraSpecs(r)
        registerAccess(r)
    }

    /// Public types, and private ones the caller's project was given (admins: all).
    private func usable(_ type: VolumeType, _ call: APICall) -> Bool {
        type.isPublic || call.isAdmin || call.auth.projectID.map(type.projects.contains) == true
    }

    private func visibleType(_ call: APICall) async throws -> VolumeType {
        let id = try call.param("type_id")
        guard let type = try await store.db.read({ try await store.type(id, in: $0) }), usable(type, call) else {
            throw BlockStorageFault.typeNotFound(id)
        }
        return type
    }

    private func create(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "volume_type")
        guard let name = try VolumeInput.text(body["name"], field: "name"), !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw BlockStorageFault.invalidInput("Volume type name can not be empty.")
        }
        let description = try VolumeInput.text(body["description"], field: "description")
        let isPublic = try VolumeInput.bool(body["os-volume-type-access:is_public"] ?? body["is_public"], field: "is_public") ?? true
        let specs = try VolumeInput.metadata(body["extra_specs"], field: "extra_specs") ?? [:]
        let type = VolumeType(id: Identifier.uuid(), name: name, description: description, isPublic: isPublic, extraSpecs: specs,
                              createdAt: BlockStorageStore.now())
        try await store.db.transaction { db in
            guard try await store.type(named: name, in: db) == nil else { throw APIError.conflict("Volume Type \(name) already exists.") }
            try await store.save(type, in: db)
        }
        return .json(.ok, ["volume_type": views.type(type)])
    }

    private func update(_ call: APICall) async throws -> Response {
        let id = try call.param("type_id")
        let body = try VolumeInput.body(try await call.body(), "volume_type")
        let name = try VolumeInput.text(body["name"], field: "name")
        let description = try VolumeInput.text(body["description"], field: "description")
        let isPublic = try VolumeInput.bool(body["is_public"], field: "is_public")
        guard name != nil || body["description"] != nil || isPublic != nil else {
            throw BlockStorageFault.invalidInput("Specify volume type name, description, is_public or a combination thereof.")
        }
        if let name, name.trimmingCharacters(in: .whitespaces).isEmpty { throw BlockStorageFault.invalidInput("Volume type name can not be empty.") }
        let type = try await store.db.transaction { db -> VolumeType in
            guard var type = try await store.type(id, in: db) else { throw BlockStorageFault.typeNotFound(id) }
            if let name, name != type.name {
                guard type.name != VolumeType.defaultName else { throw APIError.badRequest("The default volume type can not be renamed.") }
                guard try await store.type(named: name, in: db) == nil else { throw APIError.conflict("Volume Type \(name) already exists.") }
                type.name = name
            }
            if body["description"] != nil { type.description = description }
            if let isPublic { type.isPublic = isPublic }
            try await store.save(type, in: db)
            return type
        }
        return .json(.ok, ["volume_type": views.type(type, updated: true)])
    }

    /// Changes a type in one transaction.
    private func edit(_ id: String, _ change: @escaping @Sendable (inout VolumeType) throws -> Void) async throws -> VolumeType {
        try await store.db.transaction { db in
            guard var type = try await store.type(id, in: db) else { throw BlockStorageFault.typeNotFound(id) }
            try change(&type)
            try await store.save(type, in: db)
            return type
        }
    }

    private func registerExtraSpecs(_ r: PolicyRouter) {
        r.get("/v3/types/:type_id/extra_specs", rule: "volume_extension:types_extra_specs:index") { call in
            .json(.ok, ["extra_specs": Views.strings(try await visibleType(call).extraSpecs)])
        }
        r.post("/v3/types/:type_id/extra_specs", rule: "volume_extension:types_extra_specs:manage") { call in
            guard let specs = try VolumeInput.metadata(try await call.body()["extra_specs"], field: "extra_specs"), !specs.isEmpty else {
                throw BlockStorageFault.invalidInput("'extra_specs' must be a non-empty object of strings.")
            }
            _ = try await edit(try call.param("type_id")) { $0.extraSpecs.merge(specs) { _, new in new } }
            return .json(.ok, ["extra_specs": Views.strings(specs)])
        }
        r.get("/v3/types/:type_id/extra_specs/:key", rule: "volume_extension:types_extra_specs:index") { call in
            let key = try call.param("key")
            guard let value = try await visibleType(call).extraSpecs[key] else {
                throw APIError.notFound("Volume Type \(try call.param("type_id")) has no extra specs with key \(key).")
            }
            return .json(.ok, [key: .string(value)])
        }
        r.put("/v3/types/:type_id/extra_specs/:key", rule: "volume_extension:types_extra_specs:manage") { call in
            let key = try call.param("key")
            guard let specs = try VolumeInput.metadata(try await call.body(), field: "extra_specs"), specs.count == 1, let value = specs[key] else {
                throw APIError.badRequest("Request body and URI mismatch")
            }
            _ = try await edit(try call.param("type_id")) { $0.extraSpecs[key] = value }
            return .json(.ok, [key: .string(value)])
        }
        r.delete("/v3/types/:type_id/extra_specs/:key", rule: "volume_extension:types_extra_specs:manage") { call in
            let id = try call.param("type_id"), key = try call.param("key")
            _ = try await edit(id) { t in
                guard t.extraSpecs.removeValue(forKey: key) != nil else {
                    throw APIError.notFound("Volume Type \(id) has no extra specs with key \(key).")
                }
            }
            return .empty(.accepted)
        }
    }

    private func registerAccess(_ r: PolicyRouter) {
        r.get("/v3/types/:type_id/os-volume-type-access", rule: "volume_extension:volume_type_access") { call in
            let type = try await visibleType(call)
            guard !type.isPublic else { throw APIError.notFound("Access list not available for public volume types.") }
            return .json(.ok, ["volume_type_access": .array(type.projects.map { ["volume_type_id": .string(type.id), "project_id": .string($0)] })])
        }
        r.post("/v3/types/:type_id/action", rule: "volume_extension:volume_type_access") { call in
            let id = try call.param("type_id")
            guard case .object(let members) = try await call.body(), members.count == 1, let (name, value) = members.first,
                  ["addProjectAccess", "removeProjectAccess"].contains(name),
                  let project = value["project"]?.stringValue, !project.isEmpty
            else { throw BlockStorageFault.invalidInput("Expected addProjectAccess or removeProjectAccess with a 'project'.") }
            _ = try await edit(id) { t in
                guard !t.isPublic else { throw APIError.badRequest("Invalid volume type: Type access modification is not applicable to public volume type.") }
                if name == "addProjectAccess" {
                    guard !t.projects.contains(project) else { throw APIError.conflict("Volume type access for \(id)/\(project) combination already exists.") }
                    t.projects.append(project)
                } else {
                    guard t.projects.contains(project) else { throw APIError.notFound("Volume type access not found for \(id)/\(project) combination.") }
                    t.projects.removeAll { $0 == project }
                }
            }
            return .empty(.accepted)
        }
    }
}
