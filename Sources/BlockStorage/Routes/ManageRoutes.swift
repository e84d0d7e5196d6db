import DriverKit
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

    /// Whether `host` names this backend: `node@backend`, whatever `#pool` follows.
    private func isThisBackend(_ host: String) -> Bool {
        host.split(separator: "#", maxSplits: 1).first.map(String.init) == service.volumeServiceHost
    }

    /// Exactly one of `host` and `cluster`, as Cinder asks (there are no clusters here).
    private static func host(_ host: String?, _ cluster: String?) throws -> String? {
        guard (host == nil) != (cluster == nil) else { throw APIError.badRequest("One and only one of cluster and host must be set.") }
        return host
    }

    /// What the driver holds under a volume ID's name: the driver's scratch copies (a backup's) are not to be taken.
    private func held() async throws -> [BackendVolume] {
        try await service.driver.backendVolumes().filter { UUID(uuidString: $0.id) != nil }
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        try call.require(3, 8)
        let cluster = call.query("cluster")
        guard let host = try Self.host(call.query("host"), cluster), isThisBackend(host) else {
            throw APIError.notFound(cluster.map { "Cluster \($0) could not be found." } ?? "Service \(call.query("host")!) could not be found.")
        }
        let page = try Paging.page(try await held(), call, id: \.name, path: "\(service.publicURL)/volume/v3/manageable_volumes\(detailed ? "/detail" : "")")
        let known = try await store.volumeIDs(among: page.items.map(\.id))
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
        let cluster = try VolumeInput.text(body["cluster"], field: "cluster")
        let asked = try VolumeInput.text(body["host"], field: "host")
        // Cinder's "not found" here is a 400: the request names a backend that is not there.
        guard let host = try Self.host(asked, cluster), isThisBackend(host) else {
            throw APIError.badRequest("\(asked == nil ? "Cluster" : "Host") '\(asked ?? cluster!)' not found")
        }
        guard case .object(let ref)? = body["ref"] else { throw BlockStorageFault.invalidInput("'ref' is a required property") }
        let refText = JSON.object(ref).text
        guard let name = ref["source-name"]?.stringValue else {
            throw APIError.badRequest("Manage existing volume failed due to invalid backend reference \(refText): the reference needs a 'source-name'.")
        }
        let projectID = try call.auth.projectID ?? { throw APIError.badRequest("A project-scoped token is needed to manage a volume.") }()
        let typeRef = try VolumeInput.text(body["volume_type"], field: "volume_type")
        if let typeRef, try await store.db.read({ try await store.type(idOrName: typeRef, in: $0) }) == nil {
            throw APIError.badRequest("Invalid volume type: Cannot find requested '\(typeRef)' volume type")
        }
        // What the backend holds under that name, and not already a volume.
        guard let held = try await held().first(where: { $0.name == name }) else {
            throw APIError.badRequest("Manage existing volume failed due to invalid backend reference \(refText): no volume of that name is on the backend.")
        }
        guard try await store.volume(held.id) == nil else {
            throw APIError.badRequest("Manage existing volume failed due to invalid backend reference \(refText): it is volume \(held.id) already.")
        }
        var request = VolumeRequest(
            projectID: projectID, userID: call.auth.userID, isAdmin: call.isAdmin, size: held.sizeGB,
            name: try VolumeInput.text(body["name"], field: "name"), description: try VolumeInput.text(body["description"], field: "description"),
            metadata: try VolumeInput.metadata(body["metadata"]) ?? [:], zone: try VolumeInput.text(body["availability_zone"], field: "availability_zone"),
            typeRef: typeRef)
        request.managing = name
        request.bootable = try VolumeInput.bool(body["bootable"], field: "bootable") ?? false
        let volume = try await service.create(request)
        let type = try await store.db.read { try await store.type(volume.typeID, in: $0) }
        // Cinder answers with its legacy view: none of the microversions' fields.
        return .json(.accepted, ["volume": Views(service: service).volume(volume, typeName: type?.name, admin: call.isAdmin)])
    }
}
