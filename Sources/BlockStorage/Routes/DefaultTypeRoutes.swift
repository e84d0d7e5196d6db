import Foundation
import Hummingbird
import MartletCore

/// `/default-types` (3.62): the volume type each project's new volumes take when they name none.
struct DefaultTypeRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.put("/v3/default-types/:project_id", rule: "volume_extension:default_set_or_update", loadsTarget: true) { call in
            let project = try await knownProject(call)
            let body = try VolumeInput.body(try await call.body(), "default_type")
            try VolumeInput.refuseUnknown(body, ["volume_type"])
            guard let ref = try VolumeInput.text(body["volume_type"], field: "volume_type")?.trimmingCharacters(in: .whitespaces), !ref.isEmpty else {
                throw APIError.badRequest("An invalid 'name' value was provided. The 'name' can not be empty.")
            }
            let typeID = try await store.db.transaction { db -> String in
                // Cinder's answer for a type it cannot find here is a 400: the request, not the path, is wrong.
                guard let type = try await store.type(idOrName: ref, in: db) else {
                    throw APIError.badRequest(UUID(uuidString: ref) == nil ? "Volume type with name \(ref) could not be found." : "Volume type \(ref) could not be found.")
                }
                try await store.setDefaultType(projectID: project, typeID: type.id, in: db)
                return type.id
            }
            return .json(.ok, ["default_type": Self.view(project, typeID)])
        }
        r.get("/v3/default-types/:project_id", rule: "volume_extension:default_get", loadsTarget: true) { call in
            let project = try await knownProject(call)
            guard let found = try await store.db.read({ try await store.defaultTypes(projectID: project, in: $0) }).first else {
                throw APIError.notFound("Default type for project \(project) not found.")
            }
            return .json(.ok, ["default_type": Self.view(found.projectID, found.typeID)])
        }
        r.get("/v3/default-types", rule: "volume_extension:default_get_all", loadsTarget: true) { call in
            try call.require(3, 62)
            try call.authorize([:])
            let all = try await store.db.read { try await store.defaultTypes(in: $0) }
            return .json(.ok, ["default_types": .array(all.map { Self.view($0.projectID, $0.typeID) })])
        }
        r.delete("/v3/default-types/:project_id", rule: "volume_extension:default_unset", loadsTarget: true) { call in
            try call.require(3, 62)
            let project = try call.param("project_id")
            try call.authorize(["project_id": project])
            // A project that is gone may still have a default left behind: unsetting it is allowed, as Cinder now does.
            try await store.db.transaction { try await store.unsetDefaultType(projectID: project, in: $0) }
            return .empty(.noContent)
        }
    }

    /// The project the path names, once the caller may act on it; a project Identity does not know is a 404.
    private func knownProject(_ call: APICall) async throws -> String {
        try call.require(3, 62)
        let project = try call.param("project_id")
        // Checked before the project, so that no one learns which projects exist from a refusal.
        try call.authorize(["project_id": project])
        guard try await service.projects.projectExists(id: project) else { throw APIError.notFound("Project with id \(project) not found.") }
        return project
    }

    static func view(_ projectID: String, _ typeID: String) -> JSON {
        ["project_id": .string(projectID), "volume_type_id": .string(typeID)]
    }
}
