import Foundation
import Hummingbird
import MartletCore

/// `/v3/domains` and `/v3/projects` (with tags): one table, two APIs.
struct ProjectRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let tagLimit = 80

    func register(_ r: PolicyRouter) {
        r.get("/v3/domains", rule: "identity:list_domains") { call in
            let names = NameFilter(query: call.queryItems)
            let enabled = queryBool(call.query("enabled"))
            let domains = try await store.allProjects().filter {
                $0.isDomain && names.matches($0.name) && (enabled == nil || $0.enabled == enabled)
            }
            return .json(.ok, ["domains": .array(domains.map { $0.json(store) }), "links": store.collectionLinks("domains")])
        }
        r.post("/v3/domains", rule: "identity:create_domain") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "domain")
            let domain = Project(
                id: try f.string("explicit_domain_id", minLength: 1, maxLength: 64) ?? Identifier.hex(),
                name: try f.requiredString("name", maxLength: 64), domainID: Project.rootDomainID, parentID: nil,
                isDomain: true, description: try f.string("description", nullable: true) ?? "", enabled: try f.bool("enabled") ?? true,
                extra: f.extras(excluding: ["id", "name", "description", "enabled", "tags", "options", "explicit_domain_id", "links"]),
                tags: try tags(f) ?? [])
            try await store.write(conflict: "Conflict occurred attempting to store domain - Duplicate entry found with name \(domain.name).") {
                try await store.insert(domain, in: $0)
            }
            return .json(.created, ["domain": domain.json(store)])
        }
        r.get("/v3/domains/:domain_id", rule: "identity:get_domain") { call in
            .json(.ok, ["domain": try await store.requireDomain(try call.param("domain_id")).json(store)])
        }
        r.patch("/v3/domains/:domain_id", rule: "identity:update_domain") { call in
            var domain = try await store.requireDomain(try call.param("domain_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "domain")
            try rejectChange(f, "id", domain.id)
            try apply(f, to: &domain)
            try await store.write(conflict: "Conflict occurred attempting to update domain - Duplicate entry found with name \(domain.name).") {
                try await store.update(domain, in: $0)
            }
            return .json(.ok, ["domain": domain.json(store)])
        }
        r.delete("/v3/domains/:domain_id", rule: "identity:delete_domain") { call in
            let domain = try await store.requireDomain(try call.param("domain_id"))
            guard !domain.enabled else {
                throw APIError.forbidden("Cannot delete a domain that is enabled, please disable it first.")
            }
            try await store.transaction { try await store.deleteDomain(domain.id, in: $0) }
            return .empty()
        }

        r.get("/v3/projects", rule: "identity:list_projects") { call in
            .json(.ok, ["projects": .array(try await filteredProjects(call).map { $0.projectJSON(store) }), "links": store.collectionLinks("projects")])
        }
        r.post("/v3/projects", rule: "identity:create_project") { call in
            let project = try await newProject(call)
            try await store.write(conflict: "Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : \(project.name).") {
                try await store.insert(project, in: $0)
            }
            return .json(.created, ["project": project.projectJSON(store)])
        }
        r.get("/v3/projects/:project_id", rule: "identity:get_project") { call in
            let project = try await store.requireProject(try call.param("project_id"))
            var json = project.projectJSON(store)
            if call.query("parents_as_list") != nil || call.query("subtree_as_list") != nil {
                let all = try await store.allProjects().filter { !$0.isDomain }
                if call.query("parents_as_list") != nil {
                    var parents: [JSON] = []
                    var next = project.parentID
                    while let id = next, let parent = all.first(where: { $0.id == id }) {
                        parents.append(["project": parent.projectJSON(store)])
                        next = parent.parentID
                    }
                    json = json.merging(["parents": .array(parents)])
                }
                if call.query("subtree_as_list") != nil {
                    var subtree: [JSON] = []
                    var frontier = [project.id]
                    while let id = frontier.popLast() {
                        for child in all where child.parentID == id {
                            subtree.append(["project": child.projectJSON(store)])
                            frontier.append(child.id)
                        }
                    }
                    json = json.merging(["subtree": .array(subtree)])
                }
            }
            return .json(.ok, ["project": json])
        }
        r.patch("/v3/projects/:project_id", rule: "identity:update_project") { call in
            var project = try await store.requireProject(try call.param("project_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "project")
            try rejectChange(f, "id", project.id)
            try rejectChange(f, "domain_id", project.domainID)
            try rejectChange(f, "parent_id", project.parentID)
            if let isDomain = try f.bool("is_domain"), isDomain != project.isDomain {
                throw APIError.badRequest("Invalid input for field 'project.is_domain': it cannot be changed.")
            }
            let wasEnabled = project.enabled
            try apply(f, to: &project)
            try await store.write(conflict: "Conflict occurred attempting to update project - Duplicate entry found with name \(project.name).") { db in
                try await store.update(project, in: db)
                if wasEnabled && !project.enabled { try await store.revoke(projectID: project.id, in: db) }
            }
            return .json(.ok, ["project": project.projectJSON(store)])
        }
        r.delete("/v3/projects/:project_id", rule: "identity:delete_project") { call in
            let project = try await store.requireProject(try call.param("project_id"))
            if project.isDomain {
                guard !project.enabled else { throw APIError.forbidden("Cannot delete a domain that is enabled, please disable it first.") }
                try await store.transaction { try await store.deleteDomain(project.id, in: $0) }
                return .empty()
            }
            try await store.transaction { db in
                if try await store.hasChildren(project.id, in: db) {
                    throw APIError.forbidden("Cannot delete the project \(project.id) since it is not a leaf in the hierarchy.")
                }
                try await store.deleteProject(project.id, in: db)
            }
            return .empty()
        }

        r.get("/v3/projects/:project_id/tags", rule: "identity:list_project_tags") { call in
            .json(.ok, ["tags": JSON(try await store.requireProject(try call.param("project_id")).tags)])
        }
        r.put("/v3/projects/:project_id/tags", rule: "identity:update_project_tags") { call in
            var project = try await store.requireProject(try call.param("project_id"))
            let f = try JSONFields(try await call.body(), path: "")
            project.tags = try f.require("tags", try tags(f))
            try await store.transaction { try await store.replaceTags(project.id, project.tags, in: $0) }
            return .json(.ok, ["tags": JSON(project.tags)])
        }
        r.delete("/v3/projects/:project_id/tags", rule: "identity:delete_project_tags") { call in
            let project = try await store.requireProject(try call.param("project_id"))
            try await store.transaction { try await store.replaceTags(project.id, [], in: $0) }
            return .empty()
        }
        r.getAndHead("/v3/projects/:project_id/tags/:tag", rule: "identity:get_project_tag") { call in
            let project = try await store.requireProject(try call.param("project_id"))
            let tag = try call.param("tag")
            guard project.tags.contains(tag) else { throw APIError.notFound("Tag \(tag) not found on project \(project.id).") }
            return .empty()
        }
        r.put("/v3/projects/:project_id/tags/:tag", rule: "identity:create_project_tag") { call in
            var project = try await store.requireProject(try call.param("project_id"))
            let tag = try call.param("tag")
            try Self.validateTag(tag, field: "tag")
            if !project.tags.contains(tag) {
                project.tags.append(tag)
                guard project.tags.count <= Self.tagLimit else { throw APIError.badRequest("A project may have at most \(Self.tagLimit) tags.") }
                try await store.transaction { try await store.replaceTags(project.id, project.tags, in: $0) }
            }
            // Keystone answers 201 with an empty body, as the API guidelines for tags say.
            return .empty(.created, headers: [.location: "\(store.linkBase)/projects/\(project.id)/tags/\(tag)"])
        }
        r.delete("/v3/projects/:project_id/tags/:tag", rule: "identity:delete_project_tag") { call in
            var project = try await store.requireProject(try call.param("project_id"))
            let tag = try call.param("tag")
            guard project.tags.contains(tag) else { throw APIError.notFound("Tag \(tag) not found on project \(project.id).") }
            project.tags.removeAll { $0 == tag }
            try await store.transaction { try await store.replaceTags(project.id, project.tags, in: $0) }
            return .empty()
        }
    }

    static func validateTag(_ tag: String, field: String) throws {
        guard !tag.isEmpty, tag.count <= 255, !tag.contains("/"), !tag.contains(",") else {
            throw APIError.badRequest("Invalid input for field '\(field)': tags are 1 to 255 characters without '/' or ','.")
        }
    }

    private func tags(_ f: JSONFields) throws -> [String]? {
        guard let tags = try f.strings("tags") else { return nil }
        for tag in tags { try Self.validateTag(tag, field: "tags") }
        guard tags.count <= Self.tagLimit else { throw APIError.badRequest("Invalid input for field 'tags': at most \(Self.tagLimit) tags.") }
        return Array(Set(tags)).sorted()
    }

    /// Keystone refuses changes to immutable attributes but accepts them restated unchanged.
    private func rejectChange(_ f: JSONFields, _ key: String, _ current: String?) throws {
        guard f.has(key) else { return }
        let value = try f.string(key, nullable: true)
        if value != current { throw APIError.badRequest("Invalid input for field '\(key)': it cannot be updated.") }
    }

    private func apply(_ f: JSONFields, to p: inout Project) throws {
        if let name = try f.string("name", minLength: 1, maxLength: 64) { p.name = name }
        if f.has("description") { p.description = try f.string("description", nullable: true) ?? "" }
        if let enabled = try f.bool("enabled") { p.enabled = enabled }
        if let tags = try tags(f) { p.tags = tags }
        for (key, value) in f.extras(excluding: ["id", "name", "description", "enabled", "tags", "options", "domain_id", "parent_id", "is_domain", "links"]) {
            p.extra[key] = value
        }
    }

    private func newProject(_ call: APICall) async throws -> Project {
        let f = try JSONFields.body(try await call.body(), wrapper: "project")
        let name = try f.requiredString("name", maxLength: 64)
        let isDomain = try f.bool("is_domain") ?? false
        var domainID = try f.string("domain_id", minLength: 1, maxLength: 64, nullable: true)
        let parentID = try f.string("parent_id", minLength: 1, maxLength: 64, nullable: true)
        if let parentID {
            guard let parent = try await store.project(parentID) else {
                throw APIError.notFound("Could not find project: \(parentID).")
            }
            let parentDomain = parent.isDomain ? parent.id : parent.domainID
            if let domainID, domainID != parentDomain {
                throw APIError.badRequest("Invalid input for field 'project.parent_id': the parent is in another domain.")
            }
            domainID = parentDomain
        }
        if isDomain {
            domainID = Project.rootDomainID
        } else {
            let id = domainID ?? {
                if case .project(_, _, let d, _) = call.auth.scope { return d }
                if case .domain(let d, _) = call.auth.scope { return d }
                return IdentityService.defaultDomainID
            }()
            _ = try await store.requireDomain(id)
            domainID = id
        }
        return Project(
            id: Identifier.hex(), name: name, domainID: domainID!, parentID: isDomain ? nil : (parentID ?? domainID),
            isDomain: isDomain, description: try f.string("description", nullable: true) ?? "", enabled: try f.bool("enabled") ?? true,
            extra: f.extras(excluding: ["id", "name", "description", "enabled", "tags", "options", "domain_id", "parent_id", "is_domain", "links"]),
            tags: try tags(f) ?? [])
    }

    private func filteredProjects(_ call: APICall) async throws -> [Project] {
        let q = call.queryItems
        let names = NameFilter(query: q)
        let isDomain = queryBool(q["is_domain"]) ?? false
        let enabled = queryBool(q["enabled"])
        func list(_ key: String) -> Set<String>? {
            q[key].map { Set($0.split(separator: ",").map(String.init)) }
        }
        let all = list("tags"), any = list("tags-any"), notAll = list("not-tags"), notAny = list("not-tags-any")
        return try await store.allProjects().filter { p in
            guard p.isDomain == isDomain, names.matches(p.name) else { return false }
            if let enabled, p.enabled != enabled { return false }
            if let d = q["domain_id"], p.domainID != d { return false }
            if let parent = q["parent_id"], p.parentID != parent { return false }
            let tags = Set(p.tags)
            if let all, !all.isSubset(of: tags) { return false }
            if let any, any.isDisjoint(with: tags) { return false }
            if let notAll, notAll.isSubset(of: tags) { return false }
            if let notAny, !notAny.isDisjoint(with: tags) { return false }
            return true
        }
    }
}
