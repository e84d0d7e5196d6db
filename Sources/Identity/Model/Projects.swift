import Foundation
import MartletCore
import SQLKit

/// A project, or a domain (a project with `isDomain`, as Keystone stores them).
struct Project: Sendable {
    static let rootDomainID = "<<keystone.domain.root>>"

    var id: String
    var name: String
    var domainID: String
    var parentID: String?
    var isDomain: Bool
    var description: String
    var enabled: Bool
    var extra: [String: JSON]
    var tags: [String]

    /// Domains render in the domains API's shape, projects in the projects API's.
    func json(_ store: IdentityStore) -> JSON {
        guard isDomain else { return projectJSON(store) }
        return JSON.object(extra).merging([
            "id": .string(id), "name": .string(name), "description": .string(description),
            "enabled": .bool(enabled), "tags": JSON(tags), "options": [:], "links": store.link("domains", id),
        ])
    }

    /// Any project, domains included (`GET /v3/projects?is_domain=true`), in the projects API's shape.
    func projectJSON(_ store: IdentityStore) -> JSON {
        JSON.object(extra).merging([
            "id": .string(id), "name": .string(name), "domain_id": isDomain ? nil : .string(domainID),
            "parent_id": JSON(parentID), "is_domain": .bool(isDomain), "description": .string(description),
            "enabled": .bool(enabled), "tags": JSON(tags), "options": [:], "links": store.link("projects", id),
        ])
    }
}

extension Project {
    init(row: any SQLRow, tags: [String]) throws {
        id = try row.string("id")
        name = try row.string("name")
        domainID = try row.string("domain_id")
        parentID = try row.optionalString("parent_id")
        isDomain = try row.bool("is_domain")
        description = try row.string("description")
        enabled = try row.bool("enabled")
        extra = try row.extras()
        self.tags = tags
    }
}

extension IdentityStore {
    private static let columns = "id, name, domain_id, parent_id, is_domain, description, enabled, extra"

    func project(_ id: String, in db: any SQLDatabase) async throws -> Project? {
        guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM identity_projects WHERE id = \(bind: id)").first() else {
            return nil
        }
        let tags = try await db.raw("SELECT tag FROM identity_project_tags WHERE project_id = \(bind: id) ORDER BY tag").all()
            .map { try $0.string("tag") }
        return try Project(row: row, tags: tags)
    }

    func project(_ id: String) async throws -> Project? {
        try await read { try await project(id, in: $0) }
    }

    func requireProject(_ id: String) async throws -> Project {
        // Domains are projects too, reachable through the projects API.
        guard let p = try await project(id) else { throw APIError.notFound("Could not find project: \(id).") }
        return p
    }

    func requireDomain(_ id: String, in db: any SQLDatabase) async throws -> Project {
        guard let d = try await project(id, in: db), d.isDomain else { throw APIError.notFound("Could not find domain: \(id).") }
        return d
    }

    func requireDomain(_ id: String) async throws -> Project {
        try await read { try await requireDomain(id, in: $0) }
    }

    func domain(named name: String, in db: any SQLDatabase) async throws -> Project? {
        guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM identity_projects WHERE is_domain = \(bind: true) AND domain_id = \(bind: Project.rootDomainID) AND name = \(bind: name)").first() else { return nil }
        return try Project(row: row, tags: [])
    }

    func project(named name: String, domainID: String, in db: any SQLDatabase) async throws -> Project? {
        guard let row = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM identity_projects WHERE is_domain = \(bind: false) AND domain_id = \(bind: domainID) AND name = \(bind: name)").first() else { return nil }
        return try Project(row: row, tags: [])
    }

    /// Every project (and domain) with its tags; callers filter.
    func allProjects() async throws -> [Project] {
        try await read { db in
            var tags: [String: [String]] = [:]
            for row in try await db.raw("SELECT project_id, tag FROM identity_project_tags ORDER BY tag").all() {
                tags[try row.string("project_id"), default: []].append(try row.string("tag"))
            }
            return try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM identity_projects ORDER BY name").all()
                .map { row in try Project(row: row, tags: tags[try row.string("id")] ?? []) }
        }
    }

    func insert(_ p: Project, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO identity_projects (id, name, domain_id, parent_id, is_domain, description, enabled, extra)
            VALUES (\(bind: p.id), \(bind: p.name), \(bind: p.domainID), \(bind: p.parentID), \(bind: p.isDomain),
                    \(bind: p.description), \(bind: p.enabled), \(bind: p.extra.columnText))
            """).run()
        try await replaceTags(p.id, p.tags, in: db)
    }

    func update(_ p: Project, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE identity_projects SET name = \(bind: p.name), description = \(bind: p.description),
              enabled = \(bind: p.enabled), extra = \(bind: p.extra.columnText) WHERE id = \(bind: p.id)
            """).run()
        try await replaceTags(p.id, p.tags, in: db)
    }

    func replaceTags(_ projectID: String, _ tags: [String], in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_project_tags WHERE project_id = \(bind: projectID)").run()
        for tag in Set(tags) {
            try await db.raw("INSERT INTO identity_project_tags (project_id, tag) VALUES (\(bind: projectID), \(bind: tag))").run()
        }
    }

    func hasChildren(_ id: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT id FROM identity_projects WHERE parent_id = \(bind: id) AND is_domain = \(bind: false) LIMIT 1").first() != nil
    }

    /// Removes a project and what hangs off it (assignments; tags cascade).
    func deleteProject(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM identity_assignments WHERE target_type = 'project' AND target_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_projects WHERE id = \(bind: id)").run()
        try await deleteTrusts(ofProject: id, in: db)
        try await revoke(projectID: id, in: db)
    }

    /// Removes a domain with its projects, users, groups and domain-specific roles.
    func deleteDomain(_ id: String, in db: any SQLDatabase) async throws {
        let projectIDs = try await db.raw("SELECT id FROM identity_projects WHERE domain_id = \(bind: id) AND is_domain = \(bind: false)")
            .all().map { try $0.string("id") }
        for pid in projectIDs { try await deleteProject(pid, in: db) }
        let userIDs = try await db.raw("SELECT id FROM identity_users WHERE domain_id = \(bind: id)").all().map { try $0.string("id") }
        for uid in userIDs { try await deleteUser(uid, in: db) }
        let groupIDs = try await db.raw("SELECT id FROM identity_groups WHERE domain_id = \(bind: id)").all().map { try $0.string("id") }
        for gid in groupIDs { try await deleteGroup(gid, in: db) }
        try await db.raw("DELETE FROM identity_roles WHERE domain_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_assignments WHERE target_type = 'domain' AND target_id = \(bind: id)").run()
        try await db.raw("DELETE FROM identity_projects WHERE id = \(bind: id)").run()
    }
}
