import Foundation
import MartletCore
import MartletStore
import SQLKit

/// Server admission: whether a request may change a server now, and the change with its instance
/// action, committed in one transaction. The life-cycle table (`ServerLifecycle`) decides what
/// may start; the conductor (`converge`) is then told to do the work. No HTTP here: routes pass
/// what they parsed and who asked.
struct ServerAdmission: Sendable {
    let db: Database
    let servers: ServerStore
    let actions: InstanceActions
    let placement: Placement
    let quotas: Quotas
    /// Wakes the conductor for a server.
    let converge: @Sendable (String) -> Void

    /// Who asked, as the instance action records it.
    struct Requester: Sendable {
        let requestID: String
        let userID: String
    }

    /// A locked server refuses every change but locking itself and reading its console, unless the
    /// caller may override locks (Nova's `is_admin`).
    static func checkLock(_ server: Server, overriddenBy canOverride: Bool) throws {
        if server.locked && !canOverride { throw ComputeFault.locked(server) }
    }

    /// Moves the server into the action's task when the table allows, recording the action; the
    /// conductor does the rest. `adjust` sets what the action needs on the stored server.
    func begin(_ action: ServerAction, _ id: String, by requester: Requester,
               _ adjust: @Sendable (inout Server) throws -> Void = { _ in }) async throws {
        guard let task = ServerLifecycle.transition(action).task else { preconditionFailure("\(action) sets no task") }
        try await db.transaction { db in
            guard var s = try await servers.get(id, in: db) else { throw ComputeFault.serverNotFound(id) }
            try ServerLifecycle.check(action, s)
            try adjust(&s)
            s.taskState = task
            try await servers.update(s, in: db)
            try await actions.start(action.name, server: s.id, requestID: requester.requestID, userID: requester.userID,
                                    projectID: s.projectID, in: db)
        }
        converge(id)
    }

    /// Changes the server at once (an action without a task), when the table allows, recording it.
    func change(_ action: ServerAction, _ id: String, by requester: Requester, _ apply: @Sendable (inout Server) -> Void) async throws {
        precondition(ServerLifecycle.transition(action).task == nil, "\(action) runs as a task")
        try await record(action.name, id, by: requester) { s in
            try ServerLifecycle.check(action, s)
            apply(&s)
        }
    }

    /// Changes the server at once, recording the change as the instance action `name` (for changes
    /// that are not life-cycle actions, such as security groups).
    func record(_ name: String, _ id: String, by requester: Requester, _ apply: @Sendable (inout Server) throws -> Void) async throws {
        try await db.transaction { db in
            guard var s = try await servers.get(id, in: db) else { throw ComputeFault.serverNotFound(id) }
            try apply(&s)
            try await servers.update(s, in: db)
            try await actions.start(name, server: s.id, requestID: requester.requestID, userID: requester.userID,
                                    projectID: s.projectID, in: db)
            try await actions.finish(server: s.id, host: s.host, error: nil, in: db)
        }
    }

    /// Marks the server for deletion whatever it is doing (a second delete changes nothing).
    func delete(_ id: String, force: Bool, by requester: Requester) async throws {
        let action: ServerAction = force ? .forceDelete : .delete
        guard let task = ServerLifecycle.transition(action).task else { preconditionFailure("delete sets no task") }
        try await db.transaction { db in
            guard var s = try await servers.get(id, in: db) else { throw ComputeFault.serverNotFound(id) }
            if s.taskState == task { return }
            try ServerLifecycle.check(action, s)
            s.taskState = task
            try await servers.update(s, in: db)
            try await actions.start(action.name, server: s.id, requestID: requester.requestID, userID: requester.userID,
                                    projectID: s.projectID, in: db)
        }
        converge(id)
    }

    /// Starts a resize, cold or live migration or evacuation: quota for a bigger flavor, a migration
    /// record, the task. `arrivesStopped`: an evacuated server ends stopped (2.95).
    func startMove(_ action: ServerAction, _ id: String, by requester: Requester, flavor: Flavor?, target: String?,
                   arrivesStopped: Bool = false) async throws {
        let kind: String
        switch action {
        case .resize: kind = "resize"
        case .migrate: kind = "migration"
        case .liveMigrate: kind = "live-migration"
        case .evacuate: kind = "evacuation"
        default: preconditionFailure("\(action) is not a move")
        }
        guard let task = ServerLifecycle.transition(action).task else { preconditionFailure("\(action) sets no task") }
        try await db.transaction { db in
            try await placement.lock(db)
            guard var s = try await servers.get(id, in: db) else { throw ComputeFault.serverNotFound(id) }
            try ServerLifecycle.check(action, s)
            if let target, try await placement.providers(in: db).contains(where: { $0.host == target }) == false {
                throw APIError.badRequest("Compute host \(target) could not be found.")
            }
            if let target, target == s.host { throw APIError.badRequest("The target host can't be the same one.") }
            if let flavor {
                let limits = try await quotas.limits(s.projectID, in: db)
                let used = try await servers.usage(project: s.projectID, in: db)
                for (resource, grow, inUse) in [("cores", flavor.vcpus - s.flavor.vcpus, used.cores), ("ram", flavor.ram - s.flavor.ram, used.ram)] {
                    if grow > 0, let limit = limits[resource], limit >= 0, inUse + grow > limit {
                        throw ComputeFault.quotaExceeded(resource, requested: grow, used: inUse, allowed: limit)
                    }
                }
            }
            s.oldFlavor = s.flavor
            if let flavor { s.flavor = flavor.snapshot }
            s.previousVMState = action == .evacuate && arrivesStopped ? .stopped : s.vmState
            s.moveKind = kind
            s.moveSource = s.host
            s.moveTarget = target
            s.migrationID = try await Migrations().create(server: s, kind: kind, in: db)
            s.taskState = task
            try await servers.update(s, in: db)
            try await actions.start(action.name, server: s.id, requestID: requester.requestID, userID: requester.userID,
                                    projectID: s.projectID, in: db)
        }
        converge(id)
    }

    // MARK: Create

    /// A create request checked and ready to be admitted.
    struct CreateOrder: Sendable {
        let prototype: Server
        let minCount: Int, maxCount: Int
        let groupID: String?
        /// The caller may use other projects' server groups.
        let seesAllGroups: Bool
        let requestID: String
        let hostname: String?
    }

    /// Admits creates in one transaction: each takes what its quotas allow (at least its `min_count`)
    /// and gets its servers, group memberships and `create` actions; a refused one changes nothing.
    func admit(_ orders: [CreateOrder]) async -> [Result<[Server], any Error>] {
        await db.transaction(each: orders, prepare: { db in try await placement.lock(db) }) { order, _, db in
            let base = order.prototype, projectID = base.projectID
            let limits = try await quotas.limits(projectID, in: db)
            if let limit = limits["metadata_items"], limit >= 0, base.metadata.count > limit {
                throw APIError.forbidden("Quota exceeded for metadata_items: Requested \(base.metadata.count), but already used 0 of \(limit) metadata_items")
            }
            let count = try await quotas.fit(project: projectID, limits: limits, minimum: order.minCount, wanted: order.maxCount,
                                             vcpus: base.flavor.vcpus, ram: base.flavor.ram, store: servers, in: db)
            var group: ServerGroup?
            if let groupID = order.groupID {
                guard let g = try await ServerGroups().get(groupID, in: db), order.seesAllGroups || g.projectID == projectID else {
                    throw APIError.badRequest("Invalid server group \(groupID): not found.")
                }
                try quotas.check("server_group_members", limits: limits, used: g.members.count, adding: count)
                group = g
            }
            var made: [Server] = []
            for index in 0..<count {
                var s = base
                s.id = Identifier.uuid()
                s.launchIndex = index
                if count > 1 {
                    s.name = "\(base.name)-\(index + 1)"
                    s.hostname = order.hostname ?? ServerInput.hostname(s.name)
                }
                s.createdAt = base.createdAt + Double(index) * 1e-6
                try await servers.insert(s, in: db)
                if let group { try await ServerGroups().addMember(group.id, server: s.id, in: db) }
                try await actions.start(ServerAction.create.name, server: s.id, requestID: order.requestID, userID: s.userID,
                                        projectID: s.projectID, in: db)
                made.append(s)
            }
            return made
        }
    }
}
