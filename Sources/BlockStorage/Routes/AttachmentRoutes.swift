import DriverKit
import Foundation
import Hummingbird
import MartletCore

/// `/attachments` (3.27): a volume reserved for a server, connected to a host's connector, and
/// released, as Cinder's attachments API does it. An attachment lives in its volume's record;
/// one Compute made for a server is Compute's to undo (409 here, as Cinder answers since OSSA-2023-003).
struct AttachmentRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/attachments", rule: "volume:get_all") { try await list($0, detailed: false) }
        r.get("/v3/attachments/detail", rule: "volume:get_all") { try await list($0, detailed: true) }
        r.post("/v3/attachments", rule: "volume:attachment_create") { try await create($0) }
        r.get("/v3/attachments/:attachment_id", rule: "volume:get", loadsTarget: true) { call in
            let (volume, attachment) = try await visibleAttachment(call)
            return .json(.ok, ["attachment": view(attachment, of: volume, detailed: true)])
        }
        r.put("/v3/attachments/:attachment_id", rule: "volume:attachment_update", loadsTarget: true) { try await update($0) }
        r.delete("/v3/attachments/:attachment_id", rule: "volume:attachment_delete", loadsTarget: true) { try await delete($0) }
        r.post("/v3/attachments/:attachment_id/action", rule: "volume:attachment_complete", loadsTarget: true) { try await complete($0) }
    }

    /// 3.44 `os-complete`: the host has the volume in use; the attachment is `attached` and the
    /// volume `in-use`, from whatever state they were in, as Cinder does.
    private func complete(_ call: APICall) async throws -> Response {
        try call.require(3, 44)
        let (volume, attachment) = try await visibleAttachment(call)
        try call.allow("volume:attachment_complete", projectID: volume.projectID)
        let (name, _) = try await VolumeInput.action(call)
        guard name == "os-complete" else { throw BlockStorageFault.invalidInput("There is no such attachment action: \(name)") }
        let now = BlockStorageStore.now()
        _ = try await edit(volume.id) { v in
            guard let index = v.attachments.firstIndex(where: { $0.id == attachment.id }) else { throw Self.notFound(attachment.id) }
            v.attachments[index].status = "attached"
            v.attachments[index].attachedAt = v.attachments[index].attachedAt ?? now
            v.status = "in-use"
        }
        return .empty(.noContent)
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try call.require(3, 27)
        try ResourceFilters.check(call, "attachment")
        let everyone = call.isAdmin && ["1", "true", "True", "yes"].contains(call.query("all_tenants") ?? "")
        let volumes = try await store.db.read { try await store.volumes(projectID: everyone ? nil : call.auth.projectID, in: $0) }
        var found = volumes.flatMap { v in v.attachments.map { Held(volume: v, attachment: $0) } }
        if let volume = call.query("volume_id") { found.removeAll { $0.volume.id != volume } }
        if let server = call.query("instance_id") { found.removeAll { $0.attachment.serverID != server } }
        // `status` too: Cinder takes it and, having no such column, matches nothing; the CLI's `--status` means this.
        if let status = call.query("attach_status") ?? call.query("status") { found.removeAll { $0.attachment.status != status } }
        // Cinder's default order: the newest first.
        found.sort { ($0.attachment.createdAt ?? 0, $0.id) > ($1.attachment.createdAt ?? 0, $1.id) }
        let page = try Paging.page(found, call, id: \.id, path: "\(service.publicURL)/volume/v3/attachments\(detailed ? "/detail" : "")")
        var body: [String: JSON] = ["attachments": .array(page.items.map { view($0.attachment, of: $0.volume, detailed: detailed) })]
        if let next = page.next { body["attachments_links"] = [["rel": "next", "href": .string(next)]] }
        return .json(.ok, .object(body))
    }

    private func create(_ call: APICall) async throws -> Response {
        try call.require(3, 27)
        let body = try VolumeInput.body(try await call.body(), "attachment")
        // `mode` is 3.54's; openstacksdk sends `"mode": null` before it, which says nothing.
        let allowed: Set<String> = call.requestedVersion >= Microversion(3, 54)
            ? ["volume_uuid", "instance_uuid", "connector", "mode"] : ["volume_uuid", "instance_uuid", "connector"]
        if let extra = body.keys.sorted().first(where: { !allowed.contains($0) && !($0 == "mode" && body[$0] == .null) }) {
            throw BlockStorageFault.invalidInput("Additional properties are not allowed ('\(extra)' was unexpected).")
        }
        guard let volumeID = try VolumeInput.text(body["volume_uuid"], field: "volume_uuid") else {
            throw BlockStorageFault.invalidInput("'volume_uuid' is a required property.")
        }
        let serverID = try VolumeInput.text(body["instance_uuid"], field: "instance_uuid")
        for id in [volumeID, serverID].compactMap({ $0 }) where UUID(uuidString: id) == nil {
            throw BlockStorageFault.invalidInput("'\(id)' is not a 'uuid'.")
        }
        let connector = try Self.connector(body["connector"], required: false)
        let mode = try VolumeInput.text(body["mode"], field: "mode")
        if let mode, !["rw", "ro"].contains(mode) { throw BlockStorageFault.invalidInput("'\(mode)' is not one of ['rw', 'ro'].") }
        let volume = try await service.visibleVolume(call, volumeID)
        try call.allow("volume:attachment_create", projectID: volume.projectID)
        let id = Identifier.uuid()
        _ = try await edit(volume.id) { v in
            let again = serverID != nil && v.attachments.contains { $0.serverID == serverID }
            // `downloading` as Cinder allows it, though not while a re-image writes the volume.
            guard again || v.status == "available" || (v.status == "downloading" && v.reimaging == nil) || (v.status == "in-use" && v.multiattach) else {
                throw BlockStorageFault.invalidVolume("Volume \(v.id) status must be available or downloading to reserve, but the current status is \(v.status).")
            }
            v.attachments.append(VolumeAttachment(id: id, serverID: serverID, status: "reserved", mode: mode ?? "null",
                                                  createdAt: BlockStorageStore.now()))
            if v.status == "available" { v.status = "reserved" }
        }
        if let connector { return try await connect(id, of: volume.id, to: connector) }
        let (v, attachment) = try await find(id, in: volume.id)
        return .json(.ok, ["attachment": view(attachment, of: v, detailed: true)])
    }

    private func update(_ call: APICall) async throws -> Response {
        let (volume, attachment) = try await visibleAttachment(call)
        try call.allow("volume:attachment_update", projectID: volume.projectID)
        let body = try VolumeInput.body(try await call.body(), "attachment")
        if let extra = body.keys.sorted().first(where: { $0 != "connector" }) {
            throw BlockStorageFault.invalidInput("Additional properties are not allowed ('\(extra)' was unexpected).")
        }
        guard let connector = try Self.connector(body["connector"], required: true) else {
            throw BlockStorageFault.invalidInput("'connector' is a required property.")
        }
        try VolumeActionRoutes.refuseComputeAttachment(attachment)
        guard !volume.status.contains("error") else {
            throw APIError.conflict("Volume \(volume.id) is in status \(volume.status): it cannot be connected.")
        }
        return try await connect(attachment.id, of: volume.id, to: connector)
    }

    /// The host's connection, kept in the attachment; both attachment and volume are `attaching` until completed.
    private func connect(_ id: String, of volumeID: String, to connector: [String: JSON]) async throws -> Response {
        let host = connector["host"]?.stringValue ?? connector["ip"]?.stringValue ?? "localhost"
        let connection = try await service.driver.connect(volumeID, host: host)
        let v = try await edit(volumeID) { v in
            guard let index = v.attachments.firstIndex(where: { $0.id == id }) else { throw Self.notFound(id) }
            if !v.multiattach, v.attachments.contains(where: { $0.id != id && $0.hostName == host && $0.connection != nil }) {
                throw APIError.conflict("Resource conflict: duplicate connectors detected on volume \(v.id).")
            }
            var mode = v.attachments[index].mode
            if mode == "null" { mode = connector["mode"]?.stringValue == "ro" ? "ro" : "rw" }
            if v.readonly == true { mode = "ro" }
            var answer = connection
            answer.data["access_mode"] = mode
            answer.data["attachment_id"] = id
            answer.data["volume_id"] = v.id
            v.attachments[index].mode = mode
            v.attachments[index].hostName = host
            v.attachments[index].device = connector["mountpoint"]?.stringValue
            v.attachments[index].connection = answer
            v.attachments[index].status = "attaching"
            if v.status != "in-use" { v.status = "attaching" }
        }
        guard let attachment = v.attachments.first(where: { $0.id == id }) else { throw Self.notFound(id) }
        return .json(.ok, ["attachment": view(attachment, of: v, detailed: true)])
    }

    /// Removes the attachment; the volume's status follows what is left. The answer lists what is left.
    private func delete(_ call: APICall) async throws -> Response {
        let (volume, attachment) = try await visibleAttachment(call)
        try call.allow("volume:attachment_delete", projectID: volume.projectID)
        try VolumeActionRoutes.refuseComputeAttachment(attachment)
        if let host = attachment.hostName, attachment.connection != nil,
           !volume.attachments.contains(where: { $0.id != attachment.id && $0.hostName == host }) {
            try await service.driver.disconnect(volume.id, host: host)
        }
        let v = try await edit(volume.id) { v in
            v.attachments.removeAll { $0.id == attachment.id }
            guard ["reserved", "attaching", "detaching", "in-use"].contains(v.status) else { return }
            if v.attachments.isEmpty { v.status = "available" } else if v.attachments.contains(where: { $0.status == "attached" }) { v.status = "in-use" }
        }
        return .json(.ok, ["attachments": .array(v.attachments.map { view($0, of: v, detailed: false) })])
    }

    // MARK: Helpers

    /// An attachment with the volume that holds it.
    private struct Held {
        let volume: Volume
        let attachment: VolumeAttachment
        var id: String { attachment.id }
    }

    static func notFound(_ id: String) -> APIError { .notFound("Volume attachment could not be found with filter: attachment_id = \(id).") }

    /// A connector: an object with at least one member (`host`, `ip`, `initiator`, …). On create
    /// it may be absent, null or empty (what the CLI sends without `--connect`): no connection yet.
    static func connector(_ value: JSON?, required: Bool) throws -> [String: JSON]? {
        switch value {
        case nil, .null?:
            if required { throw BlockStorageFault.invalidInput("'connector' is a required property.") }
            return nil
        case .object(let members)? where members.isEmpty && !required: return nil
        case .object(let members)? where !members.isEmpty: return members
        default: throw BlockStorageFault.invalidInput("'connector' must be an object with at least one property.")
        }
    }

    private func edit(_ volumeID: String, _ change: @escaping @Sendable (inout Volume) throws -> Void) async throws -> Volume {
        guard let v = try await store.editVolume(volumeID, change) else { throw BlockStorageFault.volumeNotFound(volumeID) }
        return v
    }

    private func find(_ id: String, in volumeID: String) async throws -> (Volume, VolumeAttachment) {
        guard let v = try await store.volume(volumeID), let a = v.attachments.first(where: { $0.id == id }) else { throw Self.notFound(id) }
        return (v, a)
    }

    /// The attachment and its volume, if the caller's project (or an admin) may see that volume.
    private func visibleAttachment(_ call: APICall) async throws -> (Volume, VolumeAttachment) {
        try call.require(3, 27)
        let id = try call.param("attachment_id")
        let volumes = try await store.db.read { try await store.volumes(projectID: call.isAdmin ? nil : call.auth.projectID, in: $0) }
        guard let volume = volumes.first(where: { v in v.attachments.contains { $0.id == id } }),
              let attachment = volume.attachments.first(where: { $0.id == id }) else { throw Self.notFound(id) }
        try call.authorize(["project_id": volume.projectID])
        return (volume, attachment)
    }

    /// Cinder's view: the summary names the attachment; the detail adds times, mode and the flattened
    /// connection (`driver_volume_type`, the driver's data, `attachment_id`). Empty times are `""`.
    private func view(_ a: VolumeAttachment, of v: Volume, detailed: Bool) -> JSON {
        var b: [String: JSON] = ["id": .string(a.id), "status": .string(a.status), "instance": JSON(a.serverID), "volume_id": .string(v.id)]
        guard detailed else { return .object(b) }
        b["attached_at"] = a.attachedAt.map { Views.time($0) } ?? ""
        b["detached_at"] = ""
        b["attach_mode"] = .string(a.mode)
        var info: [String: JSON] = [:]
        if let c = a.connection {
            info = c.data.mapValues { .string($0) }
            info["driver_volume_type"] = .string(c.driverVolumeType)
            info["attachment_id"] = .string(a.id)
        }
        b["connection_info"] = .object(info)
        return .object(b)
    }
}
