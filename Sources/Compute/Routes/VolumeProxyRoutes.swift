import Foundation
import Hummingbird
import MartletCore
import ServiceContracts

/// `/os-volumes`: Nova's view of Block Storage, served until 2.36 removed it.
struct VolumeProxyRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-volumes", rule: "os_compute_api:os-volumes:list") { try await list($0) }
        r.get("/v2.1/os-volumes/detail", rule: "os_compute_api:os-volumes:list") { try await list($0) }
        r.get("/v2.1/os-volumes/:volume_id", rule: "os_compute_api:os-volumes:show") { call in
            let (catalog, project) = try proxy(call)
            let id = try call.param("volume_id")
            guard let volume = try await catalog.volume(id: id, projectID: project) else { throw APIError.notFound("Volume \(id) could not be found.") }
            return .json(.ok, ["volume": view(volume)])
        }
        r.post("/v2.1/os-volumes", rule: "os_compute_api:os-volumes:create") { call in
            let (catalog, project) = try proxy(call)
            let f = try JSONFields.body(try await call.body(), wrapper: "volume")
            let size: Int
            switch f.members["size"] {
            case .int(let i)? where i >= 1 && i <= Int64(Int32.max): size = Int(i)
            case .string(let s)? where !s.isEmpty && s.allSatisfy(\.isNumber) && (Int(s) ?? 0) >= 1: size = Int(s)!
            default: throw APIError.badRequest("Invalid input for field/attribute size: an integer of at least 1 is required.")
            }
            let snapshot = try f.string("snapshot_id", nullable: true)
            let id = try await catalog.createVolume(projectID: project, userID: call.auth.userID, sizeGB: size,
                                                    source: snapshot.map { .snapshot($0) } ?? .blank,
                                                    name: try f.string("display_name", maxLength: 255, nullable: true) ?? "",
                                                    description: try f.string("display_description", maxLength: 255, nullable: true),
                                                    metadata: try ServerInput.validMetadata(try f.object("metadata")?.members ?? [:]))
            guard let volume = try await catalog.volume(id: id, projectID: project) else { throw APIError.notFound("Volume \(id) could not be found.") }
            return .json(.ok, ["volume": view(volume)])
        }
        r.delete("/v2.1/os-volumes/:volume_id", rule: "os_compute_api:os-volumes:delete") { call in
            let (catalog, project) = try proxy(call)
            let id = try call.param("volume_id")
            guard try await catalog.volume(id: id, projectID: project) != nil else { throw APIError.notFound("Volume \(id) could not be found.") }
            try await catalog.deleteVolume(id: id)
            return .empty(.accepted)
        }
    }

    private func proxy(_ call: APICall) throws -> (any VolumeCatalog, String) { try Self.proxy(call, service) }

    /// The catalog and the caller's project, for a version that still has the proxies (`os-snapshots` too).
    static func proxy(_ call: APICall, _ service: ComputeService) throws -> (any VolumeCatalog, String) {
        guard service.version(call) < Microversion(2, 36), let catalog = service.volumes, let project = call.auth.projectID else {
            throw APIError.notFound("The resource could not be found.")
        }
        return (catalog, project)
    }

    private func list(_ call: APICall) async throws -> Response {
        let (catalog, project) = try proxy(call)
        // `GET /os-volumes/` names a volume with an empty ID.
        if call.request.uri.path.hasSuffix("/") { throw APIError.notFound("Volume  could not be found.") }
        let all = try await catalog.volumes(projectID: project)
        let offset = max(Int(call.query("offset") ?? "0") ?? 0, 0)
        let limit = try Pagination.limit(call.query("limit"), max: 1000, invalid: ComputeFault.invalidLimit) ?? all.count
        return .json(.ok, ["volumes": .array(all.dropFirst(offset).prefix(limit).map(view))])
    }

    private func view(_ v: VolumeSummary) -> JSON {
        [
            "id": .string(v.id), "status": .string(v.status), "size": JSON(v.sizeGB), "availabilityZone": .string(v.availabilityZone),
            "createdAt": .string(NovaTime.precise(v.createdAt)), "displayName": JSON(v.name), "displayDescription": JSON(v.description),
            "volumeType": JSON(v.typeName), "snapshotId": JSON(v.snapshotID), "metadata": .object(v.metadata.mapValues { .string($0) }),
            // Nova shows one empty attachment for a volume attached nowhere.
            "attachments": v.attachments.isEmpty ? [[:]] : .array(v.attachments.map { a in
                ["id": .string(v.id), "volumeId": .string(v.id), "serverId": .string(a.serverID), "device": JSON(a.device)]
            }),
        ]
    }
}
