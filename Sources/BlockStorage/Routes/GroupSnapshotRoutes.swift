import Hummingbird
import MartletCore

/// `/group_snapshots` (3.14): a snapshot of every volume of a group, taken together. Its status is
/// its members': `creating` while one is, `error` if one failed, else `available`; unless an admin
/// reset it (3.19).
struct GroupSnapshotRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/group_snapshots", rule: "group:get_all_group_snapshots") { try await list($0, detailed: false) }
        r.get("/v3/group_snapshots/detail", rule: "group:get_all_group_snapshots") { try await list($0, detailed: true) }
        r.post("/v3/group_snapshots", rule: "group:create_group_snapshot") { try await create($0) }
        r.get("/v3/group_snapshots/:group_snapshot_id", rule: "group:get_group_snapshot", loadsTarget: true) { call in
            let snapshot = try await visible(call)
            return .json(.ok, ["group_snapshot": view(snapshot, status: try await status(of: snapshot), detailed: true, version: call.requestedVersion)])
        }
        r.post("/v3/group_snapshots/:group_snapshot_id/action", rule: "group:get_group_snapshot", loadsTarget: true) { call in
            let snapshot = try await visible(call)
            let (name, value) = try await VolumeInput.action(call)
            guard name == "reset_status", call.requestedVersion >= Microversion(3, 19) else {
                throw BlockStorageFault.invalidInput("There is no such group snapshot action: \(name)")
            }
            try call.allow("group:reset_group_snapshot_status", projectID: snapshot.projectID)
            guard let status = try VolumeInput.text(value["status"], field: "status"), GroupSnapshot.statuses.contains(status) else {
                throw BlockStorageFault.invalidInput("Must specify a valid status")
            }
            try await store.db.transaction { db in
                guard var s: GroupSnapshot = try await store.groupDoc(.snapshots, snapshot.id, in: db) else {
                    throw APIError.notFound("GroupSnapshot \(snapshot.id) could not be found.")
                }
                s.resetStatus = status
                try await store.save(s, in: db)
            }
            return .empty(.accepted)
        }
        r.delete("/v3/group_snapshots/:group_snapshot_id", rule: "group:delete_group_snapshot", loadsTarget: true) { call in
            let snapshot = try await visible(call)
            let members = try await store.db.transaction { db -> [String] in
                let members = try await store.snapshots(groupSnapshotID: snapshot.id, projectID: snapshot.projectID, in: db)
                guard members.allSatisfy({ ["available", "error"].contains($0.status) }) else {
                    throw BlockStorageFault.invalidInput("Group snapshot \(snapshot.id) status must be available or error.")
                }
                for var member in members {
                    member.status = "deleting"
                    try await store.update(member, in: db)
                }
                try await store.deleteGroupDoc(.snapshots, snapshot.id, in: db)
                return members.map(\.id)
            }
            for id in members { service.work.deleteSnapshot(id) }
            return .empty(.accepted)
        }
    }

    private func visible(_ call: APICall) async throws -> GroupSnapshot {
        try call.require(3, 14)
        let id = try call.param("group_snapshot_id")
        guard let snapshot: GroupSnapshot = try await store.groupDoc(.snapshots, id), call.canSee(projectID: snapshot.projectID) else {
            throw APIError.notFound("GroupSnapshot \(id) could not be found.")
        }
        try call.authorize(["project_id": snapshot.projectID])
        return snapshot
    }

    private func status(of snapshot: GroupSnapshot) async throws -> String {
        if let reset = snapshot.resetStatus { return reset }
        let members = try await store.db.read { try await store.snapshots(groupSnapshotID: snapshot.id, projectID: snapshot.projectID, in: $0) }
        if members.contains(where: { $0.status == "creating" }) { return "creating" }
        if members.contains(where: { $0.status.hasPrefix("error") }) { return "error" }
        if members.contains(where: { $0.status == "deleting" }) { return "deleting" }
        return "available"
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try call.require(3, 14)
        let allProjects = call.isAdmin && ["1", "true", "True", "yes"].contains(call.query("all_tenants") ?? "")
        let stored: [GroupSnapshot] = try await store.db.read { try await store.groupDocs(.snapshots, projectID: allProjects ? nil : call.auth.projectID, in: $0) }
        var snapshots: [(snapshot: GroupSnapshot, status: String)] = []
        for snapshot in stored.reversed() { snapshots.append((snapshot, try await status(of: snapshot))) }
        var links: JSON?
        // 3.29: filters, sorting and pages; before, the query is ignored.
        if call.requestedVersion >= Microversion(3, 29) {
            try ResourceFilters.check(call, "group_snapshot")
            snapshots.removeAll { s in
                !ResourceFilters.matches(s.snapshot.name, "name", call) || !ResourceFilters.matches(s.status, "status", call)
                    || !ResourceFilters.matches(s.snapshot.groupID, "group_id", call)
            }
            SortOrder.sort(&snapshots, by: try SortOrder.parse(call, allowed: ["created_at", "id", "name", "status"]), id: \.snapshot.id) { s, key in
                switch key {
                case "id": .text(s.snapshot.id)
                case "name": .text(s.snapshot.name ?? "")
                case "status": .text(s.status)
                default: .number(s.snapshot.createdAt)
                }
            }
            let page = try Paging.page(snapshots, call, id: \.snapshot.id, path: "\(service.publicURL)/volume\(call.request.uri.path.dropFirst("/volume".count))")
            snapshots = Array(page.items)
            if let next = page.next { links = [["rel": "next", "href": .string(next)]] }
        }
        var body: [String: JSON] = ["group_snapshots": .array(snapshots.map { view($0.snapshot, status: $0.status, detailed: detailed, version: call.requestedVersion) })]
        if let links { body["group_snapshot_links"] = links }
        return .json(.ok, .object(body))
    }

    /// Snapshots each volume of the group (attached ones too), with the project's snapshot quota checked for all of them at once.
    private func create(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "group_snapshot")
        guard let groupID = try VolumeInput.text(body["group_id"], field: "group_id") else { throw BlockStorageFault.invalidInput("'group_id' is required.") }
        try call.require(3, 14)
        guard let group: VolumeGroup = try await store.groupDoc(.groups, groupID), call.canSee(projectID: group.projectID) else {
            throw APIError.notFound("Group \(groupID) could not be found.")
        }
        guard group.status == "available" else { throw BlockStorageFault.invalidInput("Group \(group.id) status must be available.") }
        let snapshot = GroupSnapshot(id: Identifier.uuid(), projectID: group.projectID, userID: call.auth.userID, groupID: group.id,
                                     groupTypeID: group.groupTypeID, name: try VolumeInput.text(body["name"], field: "name"),
                                     description: try VolumeInput.text(body["description"], field: "description"), createdAt: BlockStorageStore.now())
        let members = try await store.db.transaction { db -> [Snapshot] in
            let volumes = try await store.volumes(groupID: group.id, projectID: group.projectID, in: db)
            guard volumes.allSatisfy({ ["available", "in-use"].contains($0.status) }) else {
                throw BlockStorageFault.invalidInput("Every volume of group \(group.id) must be available or in-use.")
            }
            try await store.lockProject(group.projectID, in: db)
            try await service.quotas.check(projectID: group.projectID, snapshots: volumes.count, gigabytes: volumes.reduce(0) { $0 + $1.size },
                                           typeName: nil, store: store, in: db)
            try await store.save(snapshot, in: db)
            var members: [Snapshot] = []
            for volume in volumes {
                let member = Snapshot(id: Identifier.uuid(), projectID: group.projectID, userID: call.auth.userID, volumeID: volume.id,
                                      name: snapshot.name.map { "\($0)-\(volume.id.prefix(8))" }, description: nil, size: volume.size,
                                      status: "creating", createdAt: snapshot.createdAt, groupSnapshotID: snapshot.id)
                try await store.insert(member, in: db)
                members.append(member)
            }
            return members
        }
        for member in members { service.work.createSnapshot(member) }
        return .json(.accepted, ["group_snapshot": ["id": .string(snapshot.id), "name": .string(snapshot.name ?? ""), "group_type_id": .string(snapshot.groupTypeID)]])
    }

    /// A detailed view shows the owning project from 3.58.
    private func view(_ s: GroupSnapshot, status: String, detailed: Bool, version: Microversion) -> JSON {
        guard detailed else { return ["id": .string(s.id), "name": .string(s.name ?? "")] }
        var b: [String: JSON] = ["id": .string(s.id), "name": .string(s.name ?? ""), "description": JSON(s.description), "status": .string(status),
                                 "group_id": .string(s.groupID), "group_type_id": .string(s.groupTypeID), "created_at": Views.time(s.createdAt)]
        if version >= Microversion(3, 58) { b["project_id"] = .string(s.projectID) }
        return .object(b)
    }
}
