import Foundation
import Hummingbird
import MartletCore
import ServiceContracts

/// `/os-snapshots`: Nova's view of Block Storage's volume snapshots, served until 2.36 removed it.
struct SnapshotProxyRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-snapshots", rule: "os_compute_api:os-volumes:snapshots:list") { try await list($0) }
        r.get("/v2.1/os-snapshots/detail", rule: "os_compute_api:os-volumes:snapshots:detail") { try await list($0) }
        r.get("/v2.1/os-snapshots/:snapshot_id", rule: "os_compute_api:os-volumes:snapshots:show") { call in
            let (catalog, project) = try VolumeProxyRoutes.proxy(call, service)
            return .json(.ok, ["snapshot": view(try await visible(try call.param("snapshot_id"), catalog, project))])
        }
        r.post("/v2.1/os-snapshots", rule: "os_compute_api:os-volumes:snapshots:create") { call in
            let (catalog, project) = try VolumeProxyRoutes.proxy(call, service)
            let f = try JSONFields.body(try await call.body(), wrapper: "snapshot")
            let known: Set<String> = ["volume_id", "force", "display_name", "display_description"]
            if let extra = f.members.keys.first(where: { !known.contains($0) }) {
                throw APIError.badRequest("Invalid input for field/attribute snapshot. Additional properties are not allowed ('\(extra)' was unexpected)")
            }
            let volumeID = try f.requiredString("volume_id", minLength: 0)
            let force: Bool
            switch f.members["force"] {
            case nil: force = false
            case .bool(let b)?: force = b
            case .string(let s)? where Self.truths.contains(s.lowercased()) || Self.falsehoods.contains(s.lowercased()): force = Self.truths.contains(s.lowercased())
            default: throw APIError.badRequest("Invalid input for field/attribute force. Value: \(f.members["force"].map { "\($0)" } ?? ""). is not of type 'boolean'")
            }
            guard try await catalog.volume(id: volumeID, projectID: project) != nil else { throw APIError.notFound("Volume \(volumeID) could not be found.") }
            let id = try await catalog.snapshotVolume(id: volumeID, projectID: project, userID: call.auth.userID, name: try f.string("display_name"),
                                                      description: try f.string("display_description"), force: force)
            return .json(.ok, ["snapshot": view(try await visible(id, catalog, project))])
        }
        r.delete("/v2.1/os-snapshots/:snapshot_id", rule: "os_compute_api:os-volumes:snapshots:delete") { call in
            let (catalog, project) = try VolumeProxyRoutes.proxy(call, service)
            try await catalog.deleteSnapshot(id: try visible(try call.param("snapshot_id"), catalog, project).id, projectID: project)
            return .empty(.accepted)
        }
    }

    /// Nova's `parameter_types.boolean` as strings.
    static let truths: Set<String> = ["1", "t", "true", "on", "y", "yes"]
    static let falsehoods: Set<String> = ["0", "f", "false", "off", "n", "no"]

    private func visible(_ id: String, _ catalog: any VolumeCatalog, _ project: String) async throws -> SnapshotSummary {
        guard let snapshot = try await catalog.snapshot(id: id, projectID: project) else { throw APIError.notFound("Snapshot \(id) could not be found.") }
        return snapshot
    }

    private func list(_ call: APICall) async throws -> Response {
        let (catalog, project) = try VolumeProxyRoutes.proxy(call, service)
        let all = try await catalog.snapshots(projectID: project)
        let offset = max(Int(call.query("offset") ?? "0") ?? 0, 0)
        let limit = try Pagination.limit(call.query("limit"), max: 1000, invalid: ComputeFault.invalidLimit) ?? all.count
        return .json(.ok, ["snapshots": .array(all.dropFirst(offset).prefix(limit).map(view))])
    }

    private func view(_ s: SnapshotSummary) -> JSON {
        ["id": .string(s.id), "volumeId": .string(s.volumeID), "status": .string(s.status), "size": JSON(s.sizeGB),
         "createdAt": .string(NovaTime.precise(s.createdAt)), "displayName": JSON(s.name), "displayDescription": JSON(s.description)]
    }
}
