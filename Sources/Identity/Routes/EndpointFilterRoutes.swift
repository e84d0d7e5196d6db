import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// OS-EP-FILTER associations: endpoints and endpoint groups made visible to projects (the groups
/// themselves are documents, in `DocumentRoutes`).
struct EndpointFilterRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let base = "/v3/OS-EP-FILTER"

    func register(_ r: PolicyRouter) {
        let groupPath = "\(Self.base)/endpoint_groups/:id"
        r.get("\(groupPath)/endpoints", rule: "identity:list_endpoints_associated_with_endpoint_group") { call in
            let id = try call.param("id")
            let endpoints = try await store.read { db in
                let filters = try await requireGroup(id, in: db)["filters"]?.objectValue ?? [:]
                return EndpointFilter.matching(filters, try await store.allEndpoints(in: db))
            }
            return endpointList(endpoints, link: "OS-EP-FILTER/endpoint_groups/\(id)/endpoints")
        }
        r.get("\(groupPath)/projects", rule: "identity:list_projects_associated_with_endpoint_group") { call in
            let id = try call.param("id")
            let projects = try await store.read { db in
                try await requireGroup(id, in: db)
                return try await loadProjects(try await store.projectIDs(ofEndpointGroup: id, in: db), in: db)
            }
            return projectList(projects, link: "OS-EP-FILTER/endpoint_groups/\(id)/projects")
        }
        r.put("\(groupPath)/projects/:project_id", rule: "identity:add_endpoint_group_to_project") { call in
            let (id, projectID) = (try call.param("id"), try call.param("project_id"))
            try await store.write(conflict: "Conflict occurred attempting to store project_endpoint_group - Duplicate entry.") { db in
                try await requireProject(projectID, in: db)
                try await requireGroup(id, in: db)
                try await store.addEndpointGroup(id, toProject: projectID, in: db)
            }
            return .empty()
        }
        r.getAndHead("\(groupPath)/projects/:project_id", rule: "identity:get_endpoint_group_in_project") { call in
            let (id, projectID) = (try call.param("id"), try call.param("project_id"))
            try await store.read { db in try await requireGroupInProject(id, projectID, in: db) }
            return .json(.ok, ["project_endpoint_group": [
                "endpoint_group_id": .string(id), "project_id": .string(projectID),
                "links": ["self": .string("\(store.linkBase)/OS-EP-FILTER/endpoint_groups/\(id)/projects/\(projectID)")],
            ]])
        }
        r.delete("\(groupPath)/projects/:project_id", rule: "identity:remove_endpoint_group_from_project") { call in
            let (id, projectID) = (try call.param("id"), try call.param("project_id"))
            try await store.transaction { db in
                try await requireGroupInProject(id, projectID, in: db)
                try await store.removeEndpointGroup(id, fromProject: projectID, in: db)
            }
            return .empty()
        }

        let projectPath = "\(Self.base)/projects/:project_id"
        r.get("\(projectPath)/endpoint_groups", rule: "identity:list_endpoint_groups_for_project") { call in
            let projectID = try call.param("project_id")
            let list = try await store.read { db -> [JSON] in
                try await requireProject(projectID, in: db)
                var list: [JSON] = []
                for id in try await store.endpointGroupIDs(ofProject: projectID, in: db) {
                    guard let body = try await groupBody(id, in: db) else { continue }
                    list.append(JSON.object(body).merging(["id": .string(id), "links": ["self": .string("\(store.linkBase)/OS-EP-FILTER/endpoint_groups/\(id)")]]))
                }
                return list
            }
            return .json(.ok, ["endpoint_groups": .array(list), "links": store.collectionLinks("OS-EP-FILTER/projects/\(projectID)/endpoint_groups")])
        }
        r.get("\(projectPath)/endpoints", rule: "identity:list_endpoints_for_project") { call in
            let projectID = try call.param("project_id")
            try await store.read { db in try await requireProject(projectID, in: db) }
            let ids = try await store.endpointFilter().endpointIDs(for: projectID)
            let endpoints = try await store.read { try await store.allEndpoints(in: $0) }.filter { ids.contains($0.id) }
            return endpointList(endpoints, link: "OS-EP-FILTER/projects/\(projectID)/endpoints")
        }
        r.put("\(projectPath)/endpoints/:endpoint_id", rule: "identity:add_endpoint_to_project") { call in
            let (projectID, endpointID) = (try call.param("project_id"), try call.param("endpoint_id"))
            try await store.write(conflict: "Conflict occurred attempting to store project_endpoint - Duplicate entry.") { db in
                try await requireEndpoint(endpointID, in: db)
                try await requireProject(projectID, in: db)
                try await store.addEndpoint(endpointID, toProject: projectID, in: db)
            }
            return .empty()
        }
        for method in [HTTPRequest.Method.get, .head] {
            r.on(method, "\(projectPath)/endpoints/:endpoint_id", rule: "identity:check_endpoint_in_project") { call in
                let (projectID, endpointID) = (try call.param("project_id"), try call.param("endpoint_id"))
                try await store.read { db in
                    try await requireEndpoint(endpointID, in: db)
                    try await requireProject(projectID, in: db)
                    try await requireEndpointInProject(endpointID, projectID, in: db)
                }
                return .empty()
            }
        }
        r.delete("\(projectPath)/endpoints/:endpoint_id", rule: "identity:remove_endpoint_from_project") { call in
            let (projectID, endpointID) = (try call.param("project_id"), try call.param("endpoint_id"))
            try await store.transaction { db in
                try await requireEndpointInProject(endpointID, projectID, in: db)
                try await store.removeEndpoint(endpointID, fromProject: projectID, in: db)
            }
            return .empty()
        }
        r.get("\(Self.base)/endpoints/:endpoint_id/projects", rule: "identity:list_projects_for_endpoint") { call in
            let endpointID = try call.param("endpoint_id")
            let projects = try await store.read { db in
                try await requireEndpoint(endpointID, in: db)
                return try await loadProjects(try await store.projectIDs(ofEndpoint: endpointID, in: db), in: db)
            }
            return projectList(projects, link: "OS-EP-FILTER/endpoints/\(endpointID)/projects")
        }
    }

    private func endpointList(_ endpoints: [Endpoint], link: String) -> Response {
        .json(.ok, ["endpoints": .array(endpoints.map { $0.json(store) }), "links": store.collectionLinks(link)])
    }

    private func projectList(_ projects: [Project], link: String) -> Response {
        .json(.ok, ["projects": .array(projects.map { $0.projectJSON(store) }), "links": store.collectionLinks(link)])
    }

    private func loadProjects(_ ids: [String], in db: any SQLDatabase) async throws -> [Project] {
        var projects: [Project] = []
        for id in ids { if let p = try await store.project(id, in: db) { projects.append(p) } }
        return projects
    }

    private func groupBody(_ id: String, in db: any SQLDatabase) async throws -> [String: JSON]? {
        try await db.raw("SELECT body FROM identity_documents WHERE kind = \(bind: DocumentKind.endpointGroup.rawValue) AND id = \(bind: id)")
            .first().map { try $0.extras("body") }
    }

    @discardableResult
    private func requireGroup(_ id: String, in db: any SQLDatabase) async throws -> [String: JSON] {
        guard let body = try await groupBody(id, in: db) else { throw APIError.notFound("Could not find Endpoint Group: \(id).") }
        return body
    }

    private func requireProject(_ id: String, in db: any SQLDatabase) async throws {
        guard try await store.project(id, in: db) != nil else { throw APIError.notFound("Could not find project: \(id).") }
    }

    private func requireEndpoint(_ id: String, in db: any SQLDatabase) async throws {
        guard try await store.endpoint(id, in: db) != nil else { throw APIError.notFound("Could not find endpoint: \(id).") }
    }

    private func requireGroupInProject(_ id: String, _ projectID: String, in db: any SQLDatabase) async throws {
        try await requireProject(projectID, in: db)
        try await requireGroup(id, in: db)
        guard try await store.isEndpointGroup(id, inProject: projectID, in: db) else {
            throw APIError.notFound("Endpoint Group Project Association not found.")
        }
    }

    private func requireEndpointInProject(_ endpointID: String, _ projectID: String, in db: any SQLDatabase) async throws {
        guard try await store.isEndpoint(endpointID, inProject: projectID, in: db) else {
            throw APIError.notFound("Endpoint \(endpointID) not found in project \(projectID).")
        }
    }
}
