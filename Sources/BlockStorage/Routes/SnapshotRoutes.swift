import Foundation
import Hummingbird
import MartletCore

/// `/snapshots`: point-in-time copies of volumes, with metadata and admin actions.
struct SnapshotRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }
    var views: Views { Views(service: service) }

    static let sortKeys: Set<String> = ["created_at", "id", "name", "size", "status", "updated_at"]

    func register(_ r: PolicyRouter) {
        r.get("/v3/snapshots", rule: "volume:get_all_snapshots") { try await list($0, detailed: false) }
        r.get("/v3/snapshots/detail", rule: "volume:get_all_snapshots") { try await list($0, detailed: true) }
        r.post("/v3/snapshots", rule: "volume:create_snapshot") { try await create($0) }
        r.get("/v3/snapshots/:snapshot_id", rule: "volume:get_snapshot", loadsTarget: true) { call in
            .json(.ok, ["snapshot": views.snapshot(try await service.visibleSnapshot(call), detailed: true, version: call.requestedVersion)])
        }
        r.put("/v3/snapshots/:snapshot_id", rule: "volume:update_snapshot", loadsTarget: true) { call in
            let snapshot = try await service.visibleSnapshot(call)
            let body = try VolumeInput.body(try await call.body(), "snapshot")
            let name = try VolumeInput.text(body["name"] ?? body["display_name"], field: "name")
            let description = try VolumeInput.text(body["description"] ?? body["display_description"], field: "description")
            let updated = try await edit(snapshot.id) { s in
                if body["name"] != nil || body["display_name"] != nil { s.name = name }
                if body["description"] != nil || body["display_description"] != nil { s.description = description }
            }
            return .json(.ok, ["snapshot": views.snapshot(updated, detailed: false, version: call.requestedVersion)])
        }
        r.delete("/v3/snapshots/:snapshot_id", rule: "volume:delete_snapshot", loadsTarget: true) { call in
            try await service.deleteSnapshot(try await service.visibleSnapshot(call).id)
            return .empty(.accepted)
        }
        r.post("/v3/snapshots/:snapshot_id/action", rule: "volume:get_snapshot", loadsTarget: true) { try await act($0) }
        registerMetadata(r)
    }

    private func edit(_ id: String, _ change: @escaping @Sendable (inout Snapshot) throws -> Void) async throws -> Snapshot {
        guard let s = try await store.editSnapshot(id, change) else { throw BlockStorageFault.snapshotNotFound(id) }
        return s
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try ResourceFilters.check(call, "snapshot")
        let q = call.queryItems
        let allProjects = call.isAdmin && ["1", "true", "True", "yes"].contains(q["all_tenants"] ?? "")
        var snapshots = try await store.db.read { try await store.snapshots(projectID: allProjects ? q["project_id"] : call.auth.projectID, in: $0) }
        if let name = q["display_name"] { snapshots.removeAll { $0.name != name } }
        snapshots.removeAll { !ResourceFilters.matches($0.name, "name", call) || !ResourceFilters.matches($0.description, "description", call) }
        if let status = q["status"] { snapshots.removeAll { $0.status != status } }
        if let volume = q["volume_id"] { snapshots.removeAll { $0.volumeID != volume } }
        if let zone = q["availability_zone"], zone != BlockStorageService.zone { snapshots.removeAll() }
        if try ResourceFilters.consumesQuota(call) == false { snapshots.removeAll() }
        if call.requestedVersion >= Microversion(3, 22), let raw = q["metadata"] {
            let wanted = try VolumeRoutes.dictionaryFilter(raw, "metadata")
            snapshots.removeAll { s in wanted.contains { s.metadata[$0.key] != $0.value } }
        }
        SortOrder.sort(&snapshots, by: try SortOrder.parse(call, allowed: Self.sortKeys), id: \.id) { s, key in
            switch key {
            case "id": .text(s.id)
            case "name": .text(s.name ?? "")
            case "size": .number(Double(s.size))
            case "status": .text(s.status)
            case "updated_at": .number(s.updatedAt ?? 0)
            default: .number(s.createdAt)
            }
        }
        let page = try Paging.page(snapshots, call, id: \.id, path: "\(service.publicURL)/volume\(call.request.uri.path.dropFirst("/volume".count))")
        var body: [String: JSON] = ["snapshots": .array(page.items.map { views.snapshot($0, detailed: detailed, listed: true, version: call.requestedVersion) })]
        if let next = page.next { body["snapshots_links"] = [["rel": "next", "href": .string(next)]] }
        if try ResourceFilters.wantsCount(call) { body["count"] = JSON(snapshots.count) }
        return .json(.ok, .object(body))
    }

    private func create(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "snapshot")
        // No volume named is a volume not found, as Cinder (and tempest) have it.
        guard let volumeID = try VolumeInput.text(body["volume_id"], field: "volume_id") else { throw BlockStorageFault.volumeNotFound("None") }
        let forceFlag = try VolumeInput.bool(body["force"], field: "force")
        // 3.66: an in-use volume needs no `force`; a `force` of false is refused so no one relies on it.
        let takesInUse = call.requestedVersion >= Microversion(3, 66)
        if takesInUse, forceFlag == false {
            throw APIError.badRequest("Since microversion 3.66 the 'force' flag is invalid for this request.  For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.")
        }
        let force = forceFlag ?? false || takesInUse
        let name = try VolumeInput.text(body["name"] ?? body["display_name"], field: "name")
        let description = try VolumeInput.text(body["description"] ?? body["display_description"], field: "description")
        let metadata = try VolumeInput.metadata(body["metadata"]) ?? [:]
        _ = try await service.visibleVolume(call, volumeID)
        let snapshot = try await service.createSnapshot(volumeID: volumeID, userID: call.auth.userID, name: name, description: description,
                                                        metadata: metadata, force: force)
        return .json(.accepted, ["snapshot": views.snapshot(snapshot, detailed: false, version: call.requestedVersion)])
    }

    private func act(_ call: APICall) async throws -> Response {
        let snapshot = try await service.visibleSnapshot(call)
        let (name, value) = try await VolumeInput.action(call)
        func allow(_ rule: String) throws { try call.allow(rule, projectID: snapshot.projectID) }
        switch name {
        case "os-reset_status":
            try allow("volume_extension:snapshot_admin_actions:reset_status")
            guard let status = try VolumeInput.text(value["status"], field: "status"), Snapshot.statuses.contains(status) else {
                throw BlockStorageFault.invalidInput("Must specify a valid status")
            }
            _ = try await edit(snapshot.id) { $0.status = status }
            return .empty(.accepted)
        case "os-update_snapshot_status":
            try allow("snapshot_extension:snapshot_actions:update_snapshot_status")
            guard let status = try VolumeInput.text(value["status"], field: "status") else { throw BlockStorageFault.invalidInput("'status' is required.") }
            // The moves a volume driver reports, as Cinder allows them.
            let allowed: [String: Set<String>] = ["creating": ["creating", "available", "error"], "deleting": ["deleting", "error_deleting"]]
            let progress = try VolumeInput.text(value["progress"], field: "progress")
            _ = try await edit(snapshot.id) { s in
                guard allowed[s.status]?.contains(status) == true else {
                    throw BlockStorageFault.invalidSnapshot("Snapshot status \(s.status) cannot be updated to \(status).")
                }
                s.status = status
                if let progress { s.progress = progress }
            }
            return .empty(.accepted)
        case "os-force_delete":
            try allow("volume_extension:snapshot_admin_actions:force_delete")
            _ = try await edit(snapshot.id) { $0.status = "deleting" }
            service.work.deleteSnapshot(snapshot.id)
            return .empty(.accepted)
        default:
            throw BlockStorageFault.invalidInput("There is no such action: \(name)")
        }
    }

    private func registerMetadata(_ r: PolicyRouter) {
        r.get("/v3/snapshots/:snapshot_id/metadata", rule: "volume:get_snapshot_metadata", loadsTarget: true) { call in
            .json(.ok, ["metadata": Views.strings(try await service.visibleSnapshot(call).metadata)])
        }
        r.post("/v3/snapshots/:snapshot_id/metadata", rule: "volume:update_snapshot_metadata", loadsTarget: true) { call in
            let snapshot = try await service.visibleSnapshot(call)
            let items = try await VolumeInput.metadataBody(call, "metadata")
            let s = try await edit(snapshot.id) { $0.metadata.merge(items) { _, new in new } }
            return .json(.ok, ["metadata": Views.strings(s.metadata)])
        }
        r.put("/v3/snapshots/:snapshot_id/metadata", rule: "volume:update_snapshot_metadata", loadsTarget: true) { call in
            let snapshot = try await service.visibleSnapshot(call)
            let items = try await VolumeInput.metadataBody(call, "metadata")
            let s = try await edit(snapshot.id) { $0.metadata = items }
            return .json(.ok, ["metadata": Views.strings(s.metadata)])
        }
        r.get("/v3/snapshots/:snapshot_id/metadata/:key", rule: "volume:get_snapshot_metadata", loadsTarget: true) { call in
            let key = try call.param("key")
            guard let value = try await service.visibleSnapshot(call).metadata[key] else { throw APIError.notFound("Metadata \(key) could not be found.") }
            return .json(.ok, ["meta": [key: .string(value)]])
        }
        r.put("/v3/snapshots/:snapshot_id/metadata/:key", rule: "volume:update_snapshot_metadata", loadsTarget: true) { call in
            let snapshot = try await service.visibleSnapshot(call)
            let key = try call.param("key")
            let items = try await VolumeInput.metadataBody(call, "meta")
            guard items.count == 1, let value = items[key] else { throw APIError.badRequest("Request body and URI mismatch") }
            _ = try await edit(snapshot.id) { $0.metadata[key] = value }
            return .json(.ok, ["meta": [key: .string(value)]])
        }
        r.delete("/v3/snapshots/:snapshot_id/metadata/:key", rule: "volume:delete_snapshot_metadata", loadsTarget: true) { call in
            let snapshot = try await service.visibleSnapshot(call)
            let key = try call.param("key")
            guard snapshot.metadata[key] != nil else { throw APIError.notFound("Metadata \(key) could not be found.") }
            _ = try await edit(snapshot.id) { $0.metadata.removeValue(forKey: key) }
            return .empty(.ok)
        }
    }
}
