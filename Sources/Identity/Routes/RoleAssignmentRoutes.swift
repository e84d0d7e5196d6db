import Foundation
import Hummingbird
import MartletCore

/// `GET /v3/role_assignments`: Keystone's filters, `effective` and `include_subtree`, and its rows
/// (`scope.OS-INHERIT:inherited_to` and `/OS-INHERIT/…` links for inherited grants).
struct RoleAssignmentRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    func register(_ r: PolicyRouter) {
        r.getAndHead("/v3/role_assignments", rule: "identity:list_role_assignments") { call in
            let query = try parse(call)
            if query.includeSubtree, let projectID = query.projectID { _ = try await store.requireProject(projectID) }
            if query.includeSubtree, !call.can("identity:list_role_assignments_for_tree", ["project_id": query.projectID!]) {
                throw APIError.forbidden("You are not authorized to perform the requested action: identity:list_role_assignments_for_tree.")
            }
            let rows = try await store.listRoleAssignments(query)
            let items = call.queryItems
            let includeNames = items["include_names"] != nil && queryBool(items["include_names"]) != false
            let names = includeNames ? try await NameBook.load(store) : nil
            return .json(.ok, ["role_assignments": .array(rows.map { render($0, names: names) }), "links": store.collectionLinks("role_assignments")])
        }
    }

    /// The query, refusing the combinations Keystone refuses (they could only ever list nothing).
    private func parse(_ call: APICall) throws -> RoleAssignmentQuery {
        let items = call.queryItems
        func value(_ key: String) -> String? { items[key].flatMap { $0.isEmpty ? nil : $0 } }
        func flag(_ key: String) -> Bool { items[key] != nil && queryBool(items[key]) != false }
        var q = RoleAssignmentQuery()
        q.userID = value("user.id")
        q.groupID = value("group.id")
        q.roleID = value("role.id")
        q.projectID = value("scope.project.id")
        q.domainID = value("scope.domain.id")
        q.system = value("scope.system") == "all"
        if let inherited = items["scope.OS-INHERIT:inherited_to"] { q.inherited = inherited == "projects" }
        q.effective = flag("effective")
        q.includeSubtree = flag("include_subtree")
        let system = value("scope.system") != nil
        if q.domainID != nil && q.projectID != nil { throw APIError.badRequest("Specify a domain or project, not both") }
        if system && q.domainID != nil { throw APIError.badRequest("Specify system or domain, not both") }
        if system && q.projectID != nil { throw APIError.badRequest("Specify system or project, not both") }
        if q.userID != nil && q.groupID != nil { throw APIError.badRequest("Specify a user or group, not both") }
        if q.effective && q.groupID != nil {
            throw APIError.badRequest("Combining effective and group filter will always result in an empty list.")
        }
        if q.effective && q.inherited == true && q.domainID != nil {
            throw APIError.badRequest("Combining effective, domain and inherited filters will always result in an empty list.")
        }
        if q.includeSubtree && q.projectID == nil {
            throw APIError.badRequest("scope.project.id must be specified if include_subtree is also specified")
        }
        return q
    }

    private func render(_ row: ListedAssignment, names: NameBook?) -> JSON {
        let a = row.assignment, origin = row.origin
        var links: [String: JSON] = ["assignment": .string("\(store.linkBase)/\(origin.path(roleID: row.priorRoleID ?? a.roleID))")]
        if a.actorType == .user, origin.actorType == .group {
            links["membership"] = .string("\(store.linkBase)/groups/\(origin.actorID)/users/\(a.actorID)")
        }
        if let prior = row.priorRoleID { links["prior_role"] = .string("\(store.linkBase)/roles/\(prior)") }
        var scope: [String: JSON]
        switch a.targetType {
        case .project: scope = ["project": names?.project(a.targetID) ?? ["id": .string(a.targetID)]]
        case .domain: scope = ["domain": names?.domain(a.targetID) ?? ["id": .string(a.targetID)]]
        case .system: scope = ["system": ["all": true]]
        }
        if origin.inherited { scope["OS-INHERIT:inherited_to"] = "projects" }
        var entry: [String: JSON] = ["role": names?.role(a.roleID) ?? ["id": .string(a.roleID)], "scope": .object(scope), "links": .object(links)]
        entry[a.actorType.rawValue] = names?.actor(a.actorType, a.actorID) ?? ["id": .string(a.actorID)]
        return .object(entry)
    }
}
