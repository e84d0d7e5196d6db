import Foundation
import Hummingbird
import MartletCore

/// Cinder's manage existing: `POST /os-volume-manage` takes a volume the backend holds (one that
/// was unmanaged, say) under a new volume record; `/manageable_volumes` (3.8) lists what it holds.
struct ManageRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    static let manageKeys: Set<String> = ["host", "cluster", "ref", "name", "description", "volume_type", "availability_zone", "bootable", "metadata"]

    func register(_ r: PolicyRouter) {
        r.post("/v3/os-volume-manage", rule: "volume_extension:volume_manage") { try await manage($0) }
        r.get("/v3/manageable_volumes", rule: "volume_extension:list_manageable") { try await list($0, detailed: false) }
        r.get("/v3/manageable_volumes/detail", rule: "volume_extension:list_manageable") { try await list($0, detailed: true) }
    }

    /// Whether `host` names this backend: `node@backend`, with or without its `#pool`.
    private func isThisBackend(_ host: String) -> Bool {
        host == service.backendHost || host == service.volumeServiceHost
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try call.require(3, 8)
        let host = call.query("host"), cluster = call.query("cluster")
        guard (host == nil) != (cluster == nil) else { throw BlockStorageFault.invalidInput("Either 'host' or 'cluster' must be specified.") }
        guard let host, isThisBackend(host) else { throw APIError(.serviceUnavailable, "\(host == nil ? "Cluster" : "Host") '\(host ?? cluster!)' not found") }
        let known = Set(try await store.db.read { try await store.volumes(projectID: nil, in: $0) }.map(\.id))
        let held = try await service.driver.backendVolumes()
        let page = try Paging.page(held, call, id: \.name, path: "\(service.publicURL)/volume/v3/manageable_volumes\(detailed ? "/detail" : "")")
        let entries: [JSON] = page.items.map { v in
            let managed = known.contains(v.id)
            var entry: [String: JSON] = ["reference": ["source-name": .string(v.name)], "size": JSON(v.sizeGB), "safe_to_manage": .bool(!managed)]
            if detailed {
                entry["reason_not_safe"] = managed ? "already managed" : .null
                entry["cinder_id"] = managed ? .string(v.id) : .null
                entry["extra_info"] = .null
            }
            return .object(entry)
        }
        return .json(.ok, ["manageable-volumes": .array(entries)])
    }

    private func manage(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "volume")
        try VolumeInput.refuseUnknown(body, Self.manageKeys)
        let host = try VolumeInput.text(body["host"], field: "host"), cluster = try VolumeInput.text(body["cluster"], field: "cluster")
        guard host != nil || cluster != nil else { throw BlockStorageFault.invalidInput("'host' is a required property") }
        guard let host, isThisBackend(host) else { throw APIError(.serviceUnavailable, "\(host == nil ? "Cluster" : "Host") '\(host ?? cluster!)' not found") }
        guard case .object(let ref)? = body["ref"] else { throw BlockStorageFault.invalidInput("'ref' is a required property") }
        let refText = JSON.object(ref).text
        guard let name = ref["source-name"]?.stringValue else {
            throw APIError.badRequest("Manage existing volume failed due to invalid backend reference \(refText): the reference needs a 'source-name'.")
        }
        let projectID = try call.auth.projectID ?? { throw APIError.badRequest("A project-scoped token is needed to manage a volume.") }()
        if let typeRef = try VolumeInput.text(body["volume_type"], field: "volume_type"),
           try await store.db.read({ try await store.type(idOrName: typeRef, in: $0) }) == nil {
            throw APIError.badRequest("Invalid volume type: Cannot find requested '\(typeRef)' volume type")
        }
        // What the backend holds under that name, and not already a volume.
        guard let held = try await service.driver.backendVolumes().first(where: { $0.name == name }) else {
            throw APIError.badRequest("Manage existing volume failed due to invalid backend reference \(refText): no volume of that name is on the backend.")
        }
        guard try await store.volume(held.id) == nil else {
            throw APIError.badRequest("Manage existing volume failed due to invalid backend reference \(refText): it is volume \(held.id) already.")
        }
        var request = VolumeRequest(
            projectID: projectID, userID: call.auth.userID, isAdmin: call.isAdmin, size: held.sizeGB,
            name: try VolumeInput.text(body["name"], field: "name"), description: try VolumeInput.text(body["description"], field: "description"),
            metadata: try VolumeInput.metadata(body["metadata"]) ?? [:], zone: try VolumeInput.text(body["availability_zone"], field: "availability_zone"),
            typeRef: try VolumeInput.text(body["volume_type"], field: "volume_type"))
        request.managing = name
        request.bootable = try VolumeInput.bool(body["bootable"], field: "bootable") ?? false
        let volume = try await service.create(request)
        let type = try await store.db.read { try await store.type(volume.typeID, in: $0) }
        return .json(.accepted, ["volume": Views(service: service).volume(volume, typeName: type?.name, admin: call.isAdmin, version: call.requestedVersion)])
    }
}
