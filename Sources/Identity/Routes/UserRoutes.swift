import Foundation
import Hummingbird
import MartletCore

/// `/v3/users` and `/v3/groups`, with group membership.
struct UserRoutes {
    let service: IdentityService
    var store: IdentityStore { service.store }

    static let userKnown: Set<String> = ["id", "name", "domain_id", "enabled", "password", "default_project_id", "options", "links", "password_expires_at"]
    static let groupKnown: Set<String> = ["id", "name", "domain_id", "description", "links"]

    func register(_ r: PolicyRouter) {
        r.get("/v3/users", rule: "identity:list_users") { call in
            let names = NameFilter(query: call.queryItems)
            let enabled = queryBool(call.query("enabled"))
            let users = try await store.allUsers(domainID: call.query("domain_id")).filter {
                names.matches($0.name) && (enabled == nil || $0.enabled == enabled)
            }
            return .json(.ok, ["users": .array(users.map { $0.json(store) }), "links": store.collectionLinks("users")])
        }
        r.post("/v3/users", rule: "identity:create_user") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "user")
            let domainID = try f.string("domain_id", minLength: 1, maxLength: 64) ?? service.domainOfCaller(call.auth)
            _ = try await store.requireDomain(domainID)
            let password = try f.string("password", maxLength: 4096, nullable: true)
            var user = User(
                id: Identifier.hex(), domainID: domainID, name: try f.requiredString("name", maxLength: 255),
                enabled: try f.bool("enabled") ?? true,
                defaultProjectID: try f.string("default_project_id", minLength: 1, maxLength: 64, nullable: true),
                passwordHash: nil, extra: f.extras(excluding: Self.userKnown))
            if let password { user.passwordHash = try await service.passwords.hash(password) }
            try await store.write(conflict: "Conflict occurred attempting to store user - Duplicate entry found with name \(user.name) at domain ID \(domainID).") {
                try await store.insert(user, in: $0)
            }
            return .json(.created, ["user": user.json(store)])
        }
        r.get("/v3/users/:user_id", rule: "identity:get_user") { call in
            .json(.ok, ["user": try await store.requireUser(try call.param("user_id")).json(store)])
        }
        r.patch("/v3/users/:user_id", rule: "identity:update_user") { call in
            var user = try await store.requireUser(try call.param("user_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "user")
            if let domainID = try f.string("domain_id"), domainID != user.domainID {
                throw APIError.badRequest("Invalid input for field 'user.domain_id': it cannot be updated.")
            }
            if let name = try f.string("name", minLength: 1, maxLength: 255) { user.name = name }
            let wasEnabled = user.enabled
            if let enabled = try f.bool("enabled") { user.enabled = enabled }
            if f.has("default_project_id") { user.defaultProjectID = try f.string("default_project_id", maxLength: 64, nullable: true) }
            for (key, value) in f.extras(excluding: Self.userKnown) { user.extra[key] = value }
            let newHash: String? = try await {
                guard f.has("password") else { return nil }
                return try await service.passwords.hash(try f.string("password", maxLength: 4096, nullable: true) ?? "")
            }()
            try await store.write(conflict: "Conflict occurred attempting to update user - Duplicate entry found with name \(user.name).") { db in
                try await store.update(user, in: db)
                if let newHash { try await store.setPassword(userID: user.id, hash: newHash, in: db) }
                if wasEnabled && !user.enabled { try await store.revoke(userID: user.id, in: db) }
            }
            return .json(.ok, ["user": user.json(store)])
        }
        r.delete("/v3/users/:user_id", rule: "identity:delete_user") { call in
            let user = try await store.requireUser(try call.param("user_id"))
            try await store.transaction { try await store.deleteUser(user.id, in: $0) }
            return .empty()
        }
        r.post("/v3/users/:user_id/password", rule: "identity:change_password") { call in
            let user = try await store.requireUser(try call.param("user_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "user")
            let original = try f.requiredString("original_password", minLength: 0, maxLength: 4096)
            let password = try f.requiredString("password", minLength: 0, maxLength: 4096)
            guard let hash = user.passwordHash, try await service.passwords.verify(original, hash: hash) else {
                throw APIError.unauthorized("The original password is not correct.")
            }
            let newHash = try await service.passwords.hash(password)
            try await store.transaction { try await store.setPassword(userID: user.id, hash: newHash, in: $0) }
            return .empty()
        }
        r.get("/v3/users/:user_id/groups", rule: "identity:list_groups_for_user") { call in
            let user = try await store.requireUser(try call.param("user_id"))
            let groups = try await store.groups(ofUser: user.id)
            return .json(.ok, ["groups": .array(groups.map { $0.json(store) }), "links": store.collectionLinks("users/\(user.id)/groups")])
        }
        r.get("/v3/users/:user_id/projects", rule: "identity:list_projects_for_user") { call in
            let user = try await store.requireUser(try call.param("user_id"))
            let ids = Set(try await store.read { try await store.targetIDs(ofUser: user.id, type: .project, in: $0) })
            let projects = try await store.allProjects().filter { ids.contains($0.id) && !$0.isDomain }
            return .json(.ok, ["projects": .array(projects.map { $0.projectJSON(store) }), "links": store.collectionLinks("users/\(user.id)/projects")])
        }

        r.get("/v3/groups", rule: "identity:list_groups") { call in
            let names = NameFilter(query: call.queryItems)
            let domainID = call.query("domain_id")
            let groups = try await store.allGroups().filter { names.matches($0.name) && (domainID == nil || $0.domainID == domainID) }
            return .json(.ok, ["groups": .array(groups.map { $0.json(store) }), "links": store.collectionLinks("groups")])
        }
        r.post("/v3/groups", rule: "identity:create_group") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "group")
            let domainID = try f.string("domain_id", minLength: 1, maxLength: 64) ?? service.domainOfCaller(call.auth)
            _ = try await store.requireDomain(domainID)
            let group = Group(id: Identifier.hex(), domainID: domainID, name: try f.requiredString("name", maxLength: 64),
                              description: try f.string("description", nullable: true) ?? "", extra: f.extras(excluding: Self.groupKnown))
            try await store.write(conflict: "Conflict occurred attempting to store group - Duplicate entry found with name \(group.name).") {
                try await store.insert(group, in: $0)
            }
            return .json(.created, ["group": group.json(store)])
        }
        r.get("/v3/groups/:group_id", rule: "identity:get_group") { call in
            .json(.ok, ["group": try await store.requireGroup(try call.param("group_id")).json(store)])
        }
        r.patch("/v3/groups/:group_id", rule: "identity:update_group") { call in
            var group = try await store.requireGroup(try call.param("group_id"))
            let f = try JSONFields.body(try await call.body(), wrapper: "group")
            if let domainID = try f.string("domain_id"), domainID != group.domainID {
                throw APIError.badRequest("Invalid input for field 'group.domain_id': it cannot be updated.")
            }
            if let name = try f.string("name", minLength: 1, maxLength: 64) { group.name = name }
            if f.has("description") { group.description = try f.string("description", nullable: true) ?? "" }
            for (key, value) in f.extras(excluding: Self.groupKnown) { group.extra[key] = value }
            try await store.write(conflict: "Conflict occurred attempting to update group - Duplicate entry found with name \(group.name).") {
                try await store.update(group, in: $0)
            }
            return .json(.ok, ["group": group.json(store)])
        }
        r.delete("/v3/groups/:group_id", rule: "identity:delete_group") { call in
            let group = try await store.requireGroup(try call.param("group_id"))
            try await store.transaction { try await store.deleteGroup(group.id, in: $0) }
            return .empty()
        }
        r.get("/v3/groups/:group_id/users", rule: "identity:list_users_in_group") { call in
            let group = try await store.requireGroup(try call.param("group_id"))
            let users = try await store.members(ofGroup: group.id)
            return .json(.ok, ["users": .array(users.map { $0.json(store) }), "links": store.collectionLinks("groups/\(group.id)/users")])
        }
        r.getAndHead("/v3/groups/:group_id/users/:user_id", rule: "identity:check_user_in_group") { call in
            let group = try await store.requireGroup(try call.param("group_id"))
            let user = try await store.requireUser(try call.param("user_id"))
            guard try await store.isMember(userID: user.id, groupID: group.id) else {
                throw APIError.notFound("User \(user.id) is not a member of group \(group.id).")
            }
            return .empty()
        }
        r.put("/v3/groups/:group_id/users/:user_id", rule: "identity:add_user_to_group") { call in
            let group = try await store.requireGroup(try call.param("group_id"))
            let user = try await store.requireUser(try call.param("user_id"))
            try await store.transaction { try await store.addMember(userID: user.id, groupID: group.id, in: $0) }
            return .empty()
        }
        r.delete("/v3/groups/:group_id/users/:user_id", rule: "identity:remove_user_from_group") { call in
            let group = try await store.requireGroup(try call.param("group_id"))
            let user = try await store.requireUser(try call.param("user_id"))
            guard try await store.isMember(userID: user.id, groupID: group.id) else {
                throw APIError.notFound("User \(user.id) is not a member of group \(group.id).")
            }
            try await store.transaction { try await store.removeMember(userID: user.id, groupID: group.id, in: $0) }
            return .empty()
        }
    }
}
