import Hummingbird
import MartletCore

/// `/groups` (3.13; made from a group or a group snapshot from 3.14): volumes kept together.
struct GroupRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/groups", rule: "group:get_all") { try await list($0, detailed: false) }
        r.get("/v3/groups/detail", rule: "group:get_all") { try await list($0, detailed: true) }
        r.post("/v3/groups", rule: "group:create") { try await create($0) }
        r.post("/v3/groups/action", rule: "group:create") { try await createFromSource($0) }
        r.get("/v3/groups/:group_id", rule: "group:get", loadsTarget: true) { call in
            let group = try await service.visibleGroup(call)
            return .json(.ok, ["group": view(group, call, members: try await memberIDs(call, projectID: group.projectID))])
        }
        r.put("/v3/groups/:group_id", rule: "group:update", loadsTarget: true) { try await update($0) }
        r.post("/v3/groups/:group_id/action", rule: "group:get", loadsTarget: true) { try await act($0) }
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try call.require(3, 13)
        try ResourceFilters.check(call, "group")
        let allProjects = call.isAdmin && ["1", "true", "True", "yes"].contains(call.query("all_tenants") ?? "")
        let projectID = allProjects ? nil : call.auth.projectID
        let groups: [VolumeGroup] = try await store.db.read { try await store.groupDocs(.groups, projectID: projectID, in: $0) }
            .filter { ResourceFilters.matches($0.name, "name", call) }
        let members = detailed ? try await memberIDs(call, projectID: projectID) : nil
        return .json(.ok, ["groups": .array(groups.reversed().map {
            detailed ? view($0, call, members: members) : ["id": .string($0.id), "name": .string($0.name ?? "")]
        })])
    }

    /// 3.25: `list_volume=true` shows the IDs of each group's volumes; nil when not asked.
    private func memberIDs(_ call: APICall, projectID: String?) async throws -> [String: [String]]? {
        guard call.requestedVersion >= Microversion(3, 25), ["1", "true", "True", "yes"].contains(call.query("list_volume") ?? "") else { return nil }
        let volumes = try await store.db.read { try await store.volumes(projectID: projectID, in: $0) }
        return Dictionary(grouping: volumes.compactMap { v in v.groupID.map { ($0, v.id) } }, by: { $0.0 }).mapValues { $0.map { $0.1 } }
    }

    private func create(_ call: APICall) async throws -> Response {
        try call.require(3, 13)
        let body = try VolumeInput.body(try await call.body(), "group")
        guard let typeRef = try VolumeInput.text(body["group_type"], field: "group_type") else { throw BlockStorageFault.invalidInput("'group_type' is required.") }
        guard case .array(let refs)? = body["volume_types"], !refs.isEmpty else { throw BlockStorageFault.invalidInput("'volume_types' is required.") }
        if let zone = try VolumeInput.text(body["availability_zone"], field: "availability_zone"), zone != BlockStorageService.zone {
            throw BlockStorageFault.invalidInput("Availability zone '\(zone)' is invalid.")
        }
        guard let projectID = call.auth.projectID else { throw APIError.forbidden("Groups belong to a project: use a project-scoped token.") }
        let group = try await store.db.transaction { db -> VolumeGroup in
            guard let type = try await store.groupTypes(in: db).first(where: { ($0.id == typeRef || $0.name == typeRef) && ($0.isPublic || call.isAdmin) }) else {
                throw APIError.notFound("Group type \(typeRef) could not be found.")
            }
            var volumeTypes: [String] = []
            for ref in refs {
                guard let text = ref.stringValue, let found = try await store.type(idOrName: text, in: db) else {
                    throw BlockStorageFault.typeNotFound(ref.stringValue ?? "\(ref)")
                }
                volumeTypes.append(found.id)
            }
            try await service.quotas.checkGroup(projectID: projectID, store: store, in: db)
            let group = VolumeGroup(id: Identifier.uuid(), projectID: projectID, userID: call.auth.userID,
                                    name: try VolumeInput.text(body["name"], field: "name"),
                                    description: try VolumeInput.text(body["description"], field: "description"), status: "available",
                                    groupTypeID: type.id, volumeTypeIDs: volumeTypes, availabilityZone: BlockStorageService.zone,
                                    createdAt: BlockStorageStore.now())
            try await store.save(group, in: db)
            return group
        }
        return .json(.accepted, ["group": ["id": .string(group.id), "name": .string(group.name ?? "")]])
    }

    /// A copy of a group (each volume cloned) or a group made from a group snapshot (a volume from each member snapshot).
    private func createFromSource(_ call: APICall) async throws -> Response {
        try call.require(3, 14)
        let body = try VolumeInput.body(try await call.body(), "create-from-src")
        let snapshotID = try VolumeInput.text(body["group_snapshot_id"], field: "group_snapshot_id")
        let sourceID = try VolumeInput.text(body["source_group_id"], field: "source_group_id")
        guard (snapshotID == nil) != (sourceID == nil) else {
            throw BlockStorageFault.invalidInput("Either 'group_snapshot_id' or 'source_group_id' must be provided, not both.")
        }
        var sources: [(volume: VolumeRequest, typeID: String)] = []
        let template: VolumeGroup
        let projectID = call.auth.projectID ?? ""
        if let snapshotID {
            guard let snapshot: GroupSnapshot = try await store.groupDoc(.snapshots, snapshotID), call.canSee(projectID: snapshot.projectID),
                  let group: VolumeGroup = try await store.groupDoc(.groups, snapshot.groupID) else {
                throw APIError.notFound("GroupSnapshot \(snapshotID) could not be found.")
            }
            template = group
            for member in try await store.db.read({ try await store.snapshots(groupSnapshotID: snapshotID, projectID: snapshot.projectID, in: $0) }) {
                guard member.status == "available" else { throw BlockStorageFault.invalidInput("Group snapshot \(snapshotID) is not available.") }
                let typeID = try await store.volume(member.volumeID)?.typeID ?? group.volumeTypeIDs[0]
                sources.append((VolumeRequest(projectID: projectID, userID: call.auth.userID, isAdmin: call.isAdmin, size: member.size,
                                              snapshotID: member.id, typeRef: typeID), typeID))
            }
        } else {
            guard let group: VolumeGroup = try await store.groupDoc(.groups, sourceID!), call.canSee(projectID: group.projectID) else {
                throw APIError.notFound("Group \(sourceID!) could not be found.")
            }
            guard group.status == "available" else { throw BlockStorageFault.invalidInput("Source group \(group.id) is not available.") }
            template = group
            for volume in try await store.db.read({ try await store.volumes(groupID: group.id, projectID: group.projectID, in: $0) }) {
                sources.append((VolumeRequest(projectID: projectID, userID: call.auth.userID, isAdmin: call.isAdmin, size: volume.size,
                                              sourceVolumeID: volume.id, typeRef: volume.typeID), volume.typeID))
            }
        }
        let group = VolumeGroup(id: Identifier.uuid(), projectID: projectID, userID: call.auth.userID,
                                name: try VolumeInput.text(body["name"], field: "name"), description: try VolumeInput.text(body["description"], field: "description"),
                                status: "available", groupTypeID: template.groupTypeID, volumeTypeIDs: template.volumeTypeIDs,
                                availabilityZone: template.availabilityZone, groupSnapshotID: snapshotID, sourceGroupID: sourceID,
                                createdAt: BlockStorageStore.now())
        try await store.db.transaction { db in
            try await service.quotas.checkGroup(projectID: projectID, store: store, in: db)
            try await store.save(group, in: db)
        }
        for var source in sources {
            source.volume.groupID = group.id
            _ = try await service.create(source.volume)
        }
        return .json(.accepted, ["group": ["id": .string(group.id), "name": .string(group.name ?? "")]])
    }

    /// Name and description; `add_volumes`/`remove_volumes`, comma-separated volume IDs.
    private func update(_ call: APICall) async throws -> Response {
        let group = try await service.visibleGroup(call)
        let body = try VolumeInput.body(try await call.body(), "group")
        let name = try VolumeInput.text(body["name"], field: "name")
        let description = try VolumeInput.text(body["description"], field: "description")
        func ids(_ field: String) throws -> [String] {
            (try VolumeInput.text(body[field], field: field, maxLength: 65536) ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let adding = try ids("add_volumes"), removing = try ids("remove_volumes")
        guard body["name"] != nil || body["description"] != nil || !adding.isEmpty || !removing.isEmpty else {
            throw BlockStorageFault.invalidInput("Name, description, add_volumes, and remove_volumes can not be all empty in the request body.")
        }
        try await store.db.transaction { db in
            guard var g: VolumeGroup = try await store.groupDoc(.groups, group.id, in: db) else { throw APIError.notFound("Group \(group.id) could not be found.") }
            guard g.status == "available" else { throw BlockStorageFault.invalidInput("Group \(g.id) status must be available, but current status is: \(g.status).") }
            for id in adding {
                guard var v = try await store.volume(id, in: db), v.projectID == g.projectID else { throw BlockStorageFault.volumeNotFound(id) }
                guard v.groupID == nil || v.groupID == g.id, g.volumeTypeIDs.contains(v.typeID), ["available", "in-use"].contains(v.status) else {
                    throw BlockStorageFault.invalidVolume("Cannot add volume \(id) to group \(g.id): it is in another group, of a type the group does not take, or busy.")
                }
                v.groupID = g.id
                try await store.update(v, in: db)
            }
            for id in removing {
                guard var v = try await store.volume(id, in: db), v.groupID == g.id else {
                    throw BlockStorageFault.invalidVolume("Cannot remove volume \(id) from group \(g.id): it is not in it.")
                }
                v.groupID = nil
                try await store.update(v, in: db)
            }
            if body["name"] != nil { g.name = name }
            if body["description"] != nil { g.description = description }
            try await store.save(g, in: db)
        }
        return .empty(.accepted)
    }

    /// `delete` (its volumes too with `delete-volumes`); `reset_status` (admins, 3.20).
    private func act(_ call: APICall) async throws -> Response {
        let group = try await service.visibleGroup(call)
        let (name, value) = try await VolumeInput.action(call)
        if name == "reset_status", call.requestedVersion >= Microversion(3, 20) {
            try call.allow("group:reset_status", projectID: group.projectID)
            guard let status = try VolumeInput.text(value["status"], field: "status"), VolumeGroup.statuses.contains(status) else {
                throw BlockStorageFault.invalidInput("Must specify a valid status")
            }
            try await store.db.transaction { db in
                guard var g: VolumeGroup = try await store.groupDoc(.groups, group.id, in: db) else { throw APIError.notFound("Group \(group.id) could not be found.") }
                g.status = status
                try await store.save(g, in: db)
            }
            return .empty(.accepted)
        }
        if Self.replicationActions.contains(name) {
            try call.require(3, 38)
            return try await replicate(group, name, call)
        }
        guard name == "delete" else { throw BlockStorageFault.invalidInput("There is no such group action: \(name)") }
        try call.allow("group:delete", projectID: group.projectID)
        let deleteVolumes = try VolumeInput.bool(value["delete-volumes"], field: "delete-volumes") ?? false
        let doomed = try await store.db.transaction { db -> [String] in
            let volumes = try await store.volumes(groupID: group.id, projectID: group.projectID, in: db)
            let snapshots: [GroupSnapshot] = try await store.groupDocs(.snapshots, projectID: group.projectID, in: db)
            guard !snapshots.contains(where: { $0.groupID == group.id }) else {
                throw BlockStorageFault.invalidInput("Group \(group.id) still has group snapshots.")
            }
            guard volumes.isEmpty || deleteVolumes else {
                throw BlockStorageFault.invalidInput("Group \(group.id) still contains volumes. The delete-volumes flag is required to delete it.")
            }
            for var v in volumes {
                if let refusal = v.deleteRefusal(snapshots: try await store.snapshots(volumeID: v.id, in: db).count, cascade: false) { throw refusal }
                v.status = "deleting"
                try await store.update(v, in: db)
            }
            try await store.deleteGroupDoc(.groups, group.id, in: db)
            return volumes.map(\.id)
        }
        for id in doomed { service.work.delete(id) }
        return .empty(.accepted)
    }

    static let replicationActions: Set<String> = ["enable_replication", "disable_replication", "failover_replication", "list_replication_targets"]

    /// 3.38: replication of a group's volumes to another backend. Only a group whose type asks for
    /// replication, with volume types that do too, may; this backend has no replication target,
    /// so there is none to list, enable or fail over to.
    private func replicate(_ group: VolumeGroup, _ action: String, _ call: APICall) async throws -> Response {
        try call.allow("group:\(action)", projectID: group.projectID)
        let (type, volumeTypes) = try await store.db.read { db in
            (try await store.groupDoc(.types, group.groupTypeID, in: db) as GroupType?,
             try await group.volumeTypeIDs.asyncMap { try await store.type($0, in: db) })
        }
        let enabled = { (specs: [String: String], key: String) in specs[key].map { BackendCapabilities.matches("True", $0) } == true }
        guard let type, enabled(type.groupSpecs, "consistent_group_replication_enabled") else {
            throw BlockStorageFault.invalidInput("Invalid group type: Group \(group.id) is not a replication group type.")
        }
        for case let volumeType? in volumeTypes where !enabled(volumeType.extraSpecs, "replication_enabled") {
            throw BlockStorageFault.invalidInput("Invalid volume type: replication is not enabled for volume type \(volumeType.id).")
        }
        if action == "list_replication_targets" { return .json(.ok, ["replication_targets": []]) }
        throw BlockStorageFault.invalidInput("Invalid group: Group \(group.id) has no replication target to \(action.replacingOccurrences(of: "_", with: " ")).")
    }

    func view(_ g: VolumeGroup, _ call: APICall, members: [String: [String]]? = nil) -> JSON {
        var b: [String: JSON] = [
            "id": .string(g.id), "name": .string(g.name ?? ""), "description": JSON(g.description), "status": .string(g.status),
            "availability_zone": .string(g.availabilityZone), "created_at": Views.time(g.createdAt), "group_type": .string(g.groupTypeID),
            "volume_types": .array(g.volumeTypeIDs.map { .string($0) }),
        ]
        if call.requestedVersion >= Microversion(3, 14) {
            b["group_snapshot_id"] = JSON(g.groupSnapshotID)
            b["source_group_id"] = JSON(g.sourceGroupID)
        }
        // 3.38: no group is replicated here.
        if call.requestedVersion >= Microversion(3, 38) { b["replication_status"] = "disabled" }
        if call.requestedVersion >= Microversion(3, 58) { b["project_id"] = .string(g.projectID) }
        if let members { b["volumes"] = .array((members[g.id] ?? []).map { .string($0) }) }
        return .object(b)
    }
}

extension BlockStorageService {
    /// The group named by the path if the caller's project owns it (admins: any), else 404.
    func visibleGroup(_ call: APICall) async throws -> VolumeGroup {
        try call.require(3, 13)
        let id = try call.param("group_id")
        guard let group: VolumeGroup = try await store.groupDoc(.groups, id), call.canSee(projectID: group.projectID) else {
            throw APIError.notFound("Group \(id) could not be found.")
        }
        try call.authorize(["project_id": group.projectID])
        return group
    }
}
