import Foundation
import MartletCore
import SQLKit

/// The filters of `GET /v3/role_assignments`, answered as Keystone's assignment manager does.
struct RoleAssignmentQuery: Sendable {
    var userID: String?
    var groupID: String?
    var roleID: String?
    var projectID: String?
    var domainID: String?
    var system = false
    /// `scope.OS-INHERIT:inherited_to`: only inherited grants (true), only the others (false), or both.
    var inherited: Bool?
    /// Group grants expanded to their members, inherited grants onto the projects below their
    /// target, implied roles added: the assignments that end up in tokens.
    var effective = false
    /// With `projectID`: the projects below it too.
    var includeSubtree = false
}

/// One row of `/v3/role_assignments`.
struct ListedAssignment: Hashable, Sendable {
    /// What the row shows: actor, target (the project it lands on, for an expanded inherited grant), role.
    var assignment: Assignment
    /// The grant the row comes from, when that is not the row itself (a group's, an inherited one).
    var source: Assignment?
    /// The role that implied this one.
    var priorRoleID: String?

    /// The grant the row's `links.assignment` points at, and whether it is an OS-INHERIT one.
    var origin: Assignment { source ?? assignment }
}

extension IdentityStore {
    func listRoleAssignments(_ q: RoleAssignmentQuery) async throws -> [ListedAssignment] {
        let (grants, members, rules, tree, domainRoles) = try await read { db in
            (try await assignments(in: db), try await memberships(in: db), try await inferenceRules(in: db),
             try await ProjectTree.load(db),
             Set(try await db.raw("SELECT id FROM identity_roles WHERE domain_id <> ''").all().map { try $0.string("id") }))
        }
        let projects: Set<String>? = q.projectID.map { p in Set([p] + (q.includeSubtree ? tree.below(p) : [])) }
        // Whether a row on this target passes the scope filters.
        func inScope(_ type: Assignment.TargetType, _ id: String) -> Bool {
            if q.system { return type == .system }
            if let projects { return type == .project && projects.contains(id) }
            if let d = q.domainID { return type == .domain && id == d }
            return true
        }
        guard q.effective else {
            return grants.filter { a in
                if let u = q.userID, !(a.actorType == .user && a.actorID == u) { return false }
                if let g = q.groupID, !(a.actorType == .group && a.actorID == g) { return false }
                if let r = q.roleID, a.roleID != r { return false }
                // As Keystone: the inherited filter applies to project and domain grants only.
                if let inherited = q.inherited, a.targetType != .system, a.inherited != inherited { return false }
                return inScope(a.targetType, a.targetID)
            }.map { ListedAssignment(assignment: $0) }
        }

        // Effective: system grants are not listed (Keystone's effective listing reads project and
        // domain grants only), and domains inherit nothing, so a domain filter means direct grants.
        let inherited = q.domainID != nil ? false : q.inherited
        var membersOf: [String: [String]] = [:]
        for m in members { membersOf[m.group, default: []].append(m.user) }
        var rows: [ListedAssignment] = []
        for grant in grants where grant.targetType != .system {
            if let inherited, grant.inherited != inherited { continue }
            let users = grant.actorType == .user ? [grant.actorID] : membersOf[grant.actorID] ?? []
            let targets: [(Assignment.TargetType, String)] = grant.inherited
                ? (grant.targetType == .domain ? tree.projects(inDomain: grant.targetID) : tree.below(grant.targetID)).map { (.project, $0) }
                : [(grant.targetType, grant.targetID)]
            let indirect = grant.actorType == .group || grant.inherited
            for user in users where q.userID == nil || q.userID == user {
                for (type, id) in targets where inScope(type, id) {
                    let shown = Assignment(actorType: .user, actorID: user, targetType: type, targetID: id, roleID: grant.roleID)
                    rows.append(ListedAssignment(assignment: shown, source: indirect ? grant : nil))
                }
            }
        }
        var expanded: [ListedAssignment] = []
        for row in rows {
            expanded.append(row)
            var seen: Set<String> = [row.assignment.roleID]
            var frontier = [row.assignment.roleID]
            while let prior = frontier.popLast() {
                for rule in rules where rule.prior == prior && !seen.contains(rule.implied) {
                    seen.insert(rule.implied)
                    frontier.append(rule.implied)
                    var implied = row
                    implied.assignment.roleID = rule.implied
                    implied.priorRoleID = prior
                    expanded.append(implied)
                }
            }
        }
        // Domain-specific roles only ever stand for the global roles they imply.
        var seen = Set<ListedAssignment>()
        return expanded.filter { row in
            !domainRoles.contains(row.assignment.roleID) && (q.roleID == nil || row.assignment.roleID == q.roleID)
                && seen.insert(row).inserted
        }
    }
}

/// The project hierarchy, for spreading inherited grants: each project with its parent and domain.
struct ProjectTree: Sendable {
    private var children: [String: [String]] = [:]
    private var byDomain: [String: [String]] = [:]

    static func load(_ db: any SQLDatabase) async throws -> ProjectTree {
        var tree = ProjectTree()
        let rows = try await db.raw("SELECT id, parent_id, domain_id FROM identity_projects WHERE is_domain = \(bind: false) ORDER BY name")
            .all()
        for row in rows {
            let id = try row.string("id")
            if let parent = try row.optionalString("parent_id") { tree.children[parent, default: []].append(id) }
            tree.byDomain[try row.string("domain_id"), default: []].append(id)
        }
        return tree
    }

    /// Every project below `id` (its children, theirs, …), not `id` itself.
    func below(_ id: String) -> [String] {
        var found: [String] = []
        var seen: Set<String> = [id]
        var frontier = [id]
        while let next = frontier.popLast() {
            for child in children[next] ?? [] where seen.insert(child).inserted {
                found.append(child)
                frontier.append(child)
            }
        }
        return found
    }

    func projects(inDomain id: String) -> [String] { byDomain[id] ?? [] }
}
