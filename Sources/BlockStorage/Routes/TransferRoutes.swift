import Crypto
import Foundation
import Hummingbird
import MartletCore

/// `/os-volume-transfer` (and `/volume-transfers` from 3.55): a project offers an available volume
/// (with its snapshots unless `no_snapshots`); another project takes it with the key, which is
/// shown once and kept only as a salted hash.
struct TransferRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        // The legacy path, and `/volume-transfers` of 3.55 (404 before it).
        for (base, since) in [("/v3/os-volume-transfer", nil), ("/v3/volume-transfers", Microversion(3, 55))] as [(String, Microversion?)] {
            @Sendable func gated(_ call: APICall) throws { if let since { try call.require(since.major, since.minor) } }
            r.post(base, rule: "volume:create_transfer") { call in try gated(call); return try await create(call) }
            r.get(base, rule: "volume:get_all_transfers") { call in try gated(call); return try await list(call, detailed: false) }
            r.get("\(base)/detail", rule: "volume:get_all_transfers") { call in try gated(call); return try await list(call, detailed: true) }
            r.get("\(base)/:transfer_id", rule: "volume:get_transfer", loadsTarget: true) { call in
                try gated(call)
                return .json(.ok, ["transfer": view(try await visible(call), detailed: true, call)])
            }
            r.delete("\(base)/:transfer_id", rule: "volume:delete_transfer", loadsTarget: true) { call in
                try gated(call)
                return try await delete(call)
            }
            r.post("\(base)/:transfer_id/accept", rule: "volume:accept_transfer") { call in try gated(call); return try await accept(call) }
        }
    }

    private func delete(_ call: APICall) async throws -> Response {
        let transfer = try await visible(call)
        try await store.db.transaction { db in
            try await store.deleteTransfer(transfer.id, in: db)
            if var volume = try await store.volume(transfer.volumeID, in: db), volume.status == "awaiting-transfer" {
                volume.status = "available"
                try await store.update(volume, in: db)
            }
        }
        return .empty(.accepted)
    }

    /// From 3.57 a detailed view says which projects the volume goes from and to, and whether it
    /// went: an accepted transfer is gone, so a shown one is still waiting.
    private func view(_ t: VolumeTransfer, detailed: Bool, _ call: APICall) -> JSON {
        var b: [String: JSON] = ["id": .string(t.id), "name": JSON(t.name), "volume_id": .string(t.volumeID),
                                 "links": service.link("os-volume-transfer", t.id)]
        if detailed {
            b["created_at"] = Views.time(t.createdAt)
            if call.requestedVersion >= Microversion(3, 57) {
                b["source_project_id"] = .string(t.projectID)
                b["destination_project_id"] = .null
                b["accepted"] = false
            }
        }
        return .object(b)
    }

    private func visible(_ call: APICall) async throws -> VolumeTransfer {
        let id = try call.param("transfer_id")
        guard let transfer = try await store.db.read({ try await store.transfer(id, in: $0) }), call.canSee(projectID: transfer.projectID) else {
            throw APIError.notFound("Transfer \(id) could not be found.")
        }
        try call.authorize(["project_id": transfer.projectID])
        return transfer
    }

    private func list(_ call: APICall, detailed: Bool) async throws -> Response {
        let all = call.isAdmin && ["1", "true", "True"].contains(call.query("all_tenants") ?? "")
        var transfers = try await store.db.read { try await store.transfers(projectID: all ? nil : call.auth.projectID, in: $0) }
        // 3.59: sorted and paged.
        guard call.requestedVersion >= Microversion(3, 59) else {
            return .json(.ok, ["transfers": .array(transfers.map { view($0, detailed: detailed, call) })])
        }
        SortOrder.sort(&transfers, by: try SortOrder.parse(call, allowed: ["created_at", "id", "name", "volume_id"]), id: \.id) { t, key in
            switch key {
            case "id": .text(t.id)
            case "name": .text(t.name ?? "")
            case "volume_id": .text(t.volumeID)
            default: .number(t.createdAt)
            }
        }
        let page = try Paging.page(transfers, call, id: \.id, path: "\(service.publicURL)/volume\(call.request.uri.path.dropFirst("/volume".count))")
        var body: [String: JSON] = ["transfers": .array(page.items.map { view($0, detailed: detailed, call) })]
        if let next = page.next { body["transfers_links"] = [["rel": "next", "href": .string(next)]] }
        return .json(.ok, .object(body))
    }

    static func hash(_ key: String, salt: String) -> String {
        SHA256.hash(data: Data((salt + key).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    private func create(_ call: APICall) async throws -> Response {
        let body = try VolumeInput.body(try await call.body(), "transfer")
        guard let volumeID = try VolumeInput.text(body["volume_id"], field: "volume_id") else { throw BlockStorageFault.invalidInput("'volume_id' is required.") }
        let name = try VolumeInput.text(body["name"], field: "name")
        // Only the new path of 3.55 takes `no_snapshots`; the legacy one always moves them.
        let newPath = call.request.uri.path.contains("/volume-transfers")
        let noSnapshots = newPath ? try VolumeInput.bool(body["no_snapshots"], field: "no_snapshots") ?? false : false
        let volume = try await service.visibleVolume(call, volumeID)
        let key = Identifier.hex().prefix(16).lowercased()
        let salt = Identifier.hex()
        let stored = VolumeTransfer(id: Identifier.uuid(), projectID: volume.projectID, volumeID: volume.id, name: name, salt: salt,
                                    keyHash: Self.hash(key, salt: salt), createdAt: BlockStorageStore.now(), noSnapshots: noSnapshots ? true : nil)
        try await store.db.transaction { db in
            guard var v = try await store.volume(volume.id, in: db) else { throw BlockStorageFault.volumeNotFound(volume.id) }
            guard v.status == "available" else { throw BlockStorageFault.invalidVolume("status must be available, but it is \(v.status).") }
            if !noSnapshots, let busy = try await store.snapshots(volumeID: v.id, in: db).first(where: { $0.status != "available" }) {
                throw BlockStorageFault.invalidSnapshot("snapshot: \(busy.id) status must be available")
            }
            v.status = "awaiting-transfer"
            try await store.update(v, in: db)
            try await store.insert(stored, in: db)
        }
        var answer = view(stored, detailed: true, call).objectValue ?? [:]
        answer["auth_key"] = .string(key)
        return .json(.accepted, ["transfer": .object(answer)])
    }

    private func accept(_ call: APICall) async throws -> Response {
        let id = try call.param("transfer_id")
        guard let key = try VolumeInput.body(try await call.body(), "accept")["auth_key"]?.stringValue else {
            throw BlockStorageFault.invalidInput("'auth_key' is required.")
        }
        guard let project = call.auth.projectID else { throw APIError.badRequest("A project-scoped token is needed to accept a transfer.") }
        let transfer = try await store.db.transaction { db -> VolumeTransfer in
            guard let transfer = try await store.transfer(id, in: db) else { throw APIError.notFound("Transfer \(id) could not be found.") }
            guard Self.hash(key, salt: transfer.salt) == transfer.keyHash else {
                throw BlockStorageFault.invalidInput("Invalid auth key: Attempt to transfer \(id) with invalid auth key.")
            }
            guard var volume = try await store.volume(transfer.volumeID, in: db) else { throw BlockStorageFault.volumeNotFound(transfer.volumeID) }
            let snapshots = transfer.noSnapshots == true ? [] : try await store.snapshots(volumeID: volume.id, in: db)
            try await store.lockProject(project, in: db)
            let typeName = try await store.type(volume.typeID, in: db)?.name
            try await service.quotas.check(projectID: project, volumes: 1, snapshots: snapshots.count,
                                           gigabytes: volume.size + snapshots.reduce(0) { $0 + $1.size }, typeName: typeName, perVolume: false,
                                           store: store, in: db)
            volume.projectID = project
            volume.userID = call.auth.userID
            volume.status = "available"
            try await store.updateOwner(volume, in: db)
            for var snapshot in snapshots {
                snapshot.projectID = project
                snapshot.userID = call.auth.userID
                try await store.updateOwner(snapshot, in: db)
            }
            try await store.deleteTransfer(transfer.id, in: db)
            return transfer
        }
        return .json(.accepted, ["transfer": view(transfer, detailed: false, call)])
    }
}
