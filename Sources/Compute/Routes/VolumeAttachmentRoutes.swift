import Foundation
import Hummingbird
import MartletCore

/// `/servers/{id}/os-volume_attachments`: Block Storage volumes attached to a server.
struct VolumeAttachmentRoutes {
    let service: ComputeService
    var attacher: VolumeAttacher { VolumeAttacher(service: service) }

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/servers/:server_id/os-volume_attachments", rule: "os_compute_api:os-volumes-attachments:index", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let all = server.volumes ?? []
            let limit = try Pagination.limit(call.query("limit"), max: 1000, invalid: ComputeFault.invalidLimit) ?? all.count
            let offset = Int(call.query("offset") ?? "0") ?? 0
            let page = all.dropFirst(max(offset, 0)).prefix(limit)
            return .json(.ok, ["volumeAttachments": .array(page.map { view($0, server.id, call) })])
        }
        r.get("/v2.1/servers/:server_id/os-volume_attachments/:volume_id", rule: "os_compute_api:os-volumes-attachments:show", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let volumeID = try call.param("volume_id")
            guard let disk = server.volumes?.first(where: { $0.volumeID == volumeID }) else {
                throw APIError.notFound("Volume \(volumeID) is not attached to instance \(server.id).")
            }
            return .json(.ok, ["volumeAttachment": view(disk, server.id, call)])
        }
        r.post("/v2.1/servers/:server_id/os-volume_attachments", rule: "os_compute_api:os-volumes-attachments:create", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
            try ServerLifecycle.check(.attachVolume, server)
            let f = try JSONFields.body(try await call.body(), wrapper: "volumeAttachment")
            let volumeID = try f.requiredString("volumeId", maxLength: 36)
            let device = try f.string("device", maxLength: 255, nullable: true)
            if let device, !device.isEmpty, !device.hasPrefix("/dev/") {
                throw APIError.badRequest("The supplied device path (\(device)) is invalid.")
            }
            let v = service.version(call)
            let tag = v >= Microversion(2, 49) ? try f.string("tag", maxLength: 60) : nil
            let deleteOnTermination = v >= Microversion(2, 79) ? try f.bool("delete_on_termination") ?? false : false
            let disk = try await attacher.attach(server, volumeID: volumeID, device: device.flatMap { $0.isEmpty ? nil : $0 }, tag: tag,
                                                 deleteOnTermination: deleteOnTermination)
            return .json(.ok, ["volumeAttachment": view(disk, server.id, call)])
        }
        r.put("/v2.1/servers/:server_id/os-volume_attachments/:volume_id", rule: "os_compute_api:os-volumes-attachments:update", loadsTarget: true) { call in
            try await update(call)
        }
        r.delete("/v2.1/servers/:server_id/os-volume_attachments/:volume_id", rule: "os_compute_api:os-volumes-attachments:delete", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
            try ServerLifecycle.check(.detachVolume, server)
            try await attacher.detach(server, volumeID: try call.param("volume_id"))
            return .empty(.accepted)
        }
    }

    /// Nova's PUT: from 2.85 it updates `delete_on_termination` (the other fields must stay as they
    /// are); a different `volumeId` asks for a swap, which only Block Storage may ask for, and only
    /// for a volume it is migrating: this cloud migrates none, so a swap is always a 409.
    private func update(_ call: APICall) async throws -> Response {
        let server = try await service.visibleServer(call)
        let pathVolumeID = try call.param("volume_id")
        let f = try JSONFields.body(try await call.body(), wrapper: "volumeAttachment")
        let onlySwap = service.version(call) < Microversion(2, 85)
        let known: Set<String> = onlySwap ? ["volumeId"] : ["volumeId", "device", "id", "serverId", "tag", "delete_on_termination"]
        if let extra = f.members.keys.first(where: { !known.contains($0) }) {
            throw APIError.badRequest("Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('\(extra)' was unexpected)")
        }
        let volumeID = try f.requiredString("volumeId", maxLength: 36)
        for key in ["id", "serverId", "volumeId"] {
            if let id = try f.string(key), UUID(uuidString: id) == nil {
                throw APIError.badRequest("Invalid input for field/attribute \(key). Value: \(id). '\(id)' is not a 'uuid'")
            }
        }
        let swap = onlySwap || volumeID != pathVolumeID
        if swap, !call.can("os_compute_api:os-volumes-attachments:swap") {
            throw APIError.forbidden("Policy doesn't allow os_compute_api:os-volumes-attachments:swap to be performed.")
        }
        if !onlySwap { try await updateAttachment(server, volumeID: pathVolumeID, f) }
        if swap {
            guard try await attacher.volumeExists(pathVolumeID, projectID: server.projectID) else {
                throw APIError.notFound("Volume \(pathVolumeID) could not be found.")
            }
            throw APIError.conflict("volume \(pathVolumeID) is not migrating; this API should only be called by Cinder")
        }
        return .empty(.accepted)
    }

    private func updateAttachment(_ server: Server, volumeID: String, _ f: JSONFields) async throws {
        guard let disk = server.volumes?.first(where: { $0.volumeID == volumeID }) else {
            throw APIError.notFound("No volume Block Device Mapping with id \(volumeID).")
        }
        if let id = try f.string("id"), id != volumeID { throw APIError.badRequest("The id property is not mutable") }
        if let id = try f.string("serverId"), id != server.id { throw APIError.badRequest("The serverId property is not mutable") }
        if f.has("device"), try f.string("device", nullable: true) != disk.device { throw APIError.badRequest("The device property is not mutable") }
        if f.has("tag"), try f.string("tag", nullable: true) != disk.tag { throw APIError.badRequest("The tag property is not mutable") }
        guard let deleteOnTermination = try f.bool("delete_on_termination") else { return }
        _ = try await Workflows(service: service).settle(server.id) { s in
            if let index = s.volumes?.firstIndex(where: { $0.volumeID == volumeID }) { s.volumes?[index].deleteOnTermination = deleteOnTermination }
        }
    }

    private func view(_ disk: AttachedVolume, _ serverID: String, _ call: APICall) -> JSON {
        let v = service.version(call)
        var body: [String: JSON] = ["device": .string(disk.device), "serverId": .string(serverID), "volumeId": .string(disk.volumeID)]
        if v < Microversion(2, 89) { body["id"] = .string(disk.volumeID) }
        if v >= Microversion(2, 70) { body["tag"] = JSON(disk.tag) }
        if v >= Microversion(2, 79) { body["delete_on_termination"] = .bool(disk.deleteOnTermination) }
        if v >= Microversion(2, 89) {
            body["attachment_id"] = JSON(disk.connection.data["attachment_id"])
            body["bdm_uuid"] = JSON(disk.connection.data["attachment_id"])
        }
        return .object(body)
    }
}
