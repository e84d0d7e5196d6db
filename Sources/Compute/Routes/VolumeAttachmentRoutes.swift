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
        r.delete("/v2.1/servers/:server_id/os-volume_attachments/:volume_id", rule: "os_compute_api:os-volumes-attachments:delete", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
            try ServerLifecycle.check(.detachVolume, server)
            try await attacher.detach(server, volumeID: try call.param("volume_id"))
            return .empty(.accepted)
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
