import Foundation
import Hummingbird
import MartletCore
import ServiceContracts
import SQLKit

/// `POST /servers/{id}/action`: one action per request. Each parses its body and hands the action to
/// `ServerAdmission`, which checks the life-cycle table, records the task and the instance action
/// in one transaction and leaves the work to the conductor.
struct ServerActionRoutes {
    let service: ComputeService
    var admission: ServerAdmission { service.admission }

    func register(_ r: PolicyRouter) {
        r.post("/v2.1/servers/:server_id/action", rule: "os_compute_api:servers:action", loadsTarget: true) { try await act($0) }
    }

    private func act(_ call: APICall) async throws -> Response {
        let server = try await service.visibleServer(call)
        guard case .object(let members) = try await call.body(), members.count == 1, let (name, value) = members.first else {
            throw APIError.badRequest("An action body names exactly one action.")
        }
        let v = service.version(call)
        let isAdmin = call.isComputeAdmin
        let by = requester(call)
        func args() throws -> JSONFields {
            if value == .null { return try JSONFields([:], path: name) }
            return try JSONFields(value, path: name)
        }
        /// An admin action, by Nova's rule for it; the refusal keeps the wording clients have seen.
        func adminOnly(_ rule: String) throws {
            try call.enforce(rule, message: "Policy doesn't allow os_compute_api:os-admin-actions to be performed.")
        }
        if !["lock", "unlock", "os-getConsoleOutput"].contains(name) {
            try ServerAdmission.checkLock(server, overriddenBy: isAdmin)
        }
        func begin(_ action: ServerAction, _ adjust: @Sendable (inout Server) throws -> Void = { _ in }) async throws {
            try await admission.begin(action, server.id, by: by, adjust)
        }
        switch name {
        case "os-start": try await begin(.start)
        case "os-stop": try await begin(.stop)
        case "reboot":
            let type = try args().string("type")?.uppercased()
            guard let type, ["SOFT", "HARD"].contains(type) else { throw APIError.badRequest("Invalid input for field/attribute type: SOFT or HARD.") }
            try await begin(type == "SOFT" ? .rebootSoft : .rebootHard)
        case "pause": try await begin(.pause)
        case "unpause": try await begin(.unpause)
        case "suspend": try await begin(.suspend)
        case "resume": try await begin(.resume)
        case "lock":
            let reason = v >= Microversion(2, 73) ? try args().string("locked_reason", maxLength: 255) : nil
            try await admission.change(.lock, server.id, by: by) { s in s.locked = true; s.lockedReason = reason; s.lockedBy = isAdmin ? "admin" : "owner" }
            return .empty(.accepted)
        case "unlock":
            if server.locked && server.lockedBy == "admin" {
                try call.enforce("os_compute_api:os-lock-server:unlock:unlock_override")
            }
            try await admission.change(.unlock, server.id, by: by) { s in s.locked = false; s.lockedReason = nil; s.lockedBy = nil }
            return .empty(.accepted)
        case "rescue":
            let f = try args()
            let password = try f.string("adminPass")
            let image = try f.string("rescue_image_ref")
            try await begin(.rescue) { s in
                s.previousVMState = s.vmState
                s.rescueImageRef = image
            }
            return .json(.ok, service.enableInstancePassword ? ["adminPass": .string(password ?? AdminPassword.generate())] : [:])
        case "unrescue": try await begin(.unrescue)
        case "resize": return try await resize(server, call, try args())
        case "confirmResize":
            try await begin(.confirmResize)
            return .empty(.noContent)
        case "revertResize": try await begin(.revertResize)
        case "migrate":
            try adminOnly("os_compute_api:os-migrate-server:migrate")
            let f = try args()
            let host = v >= Microversion(2, 56) ? try f.string("host", nullable: true) : nil
            try await refuseWithNowhereToGo(.migrate, server, target: host, what: "cold migrate")
            try await admission.startMove(.migrate, server.id, by: by, flavor: nil, target: host)
        case "os-migrateLive":
            try adminOnly("os_compute_api:os-migrate-server:migrate_live")
            let f = try args()
            let host = try f.string("host", nullable: true)
            guard f.has("block_migration") else { throw APIError.badRequest("Invalid input for field/attribute os-migrateLive. 'block_migration' is a required property") }
            if v >= Microversion(2, 25) && f.has("disk_over_commit") {
                throw APIError.badRequest("Invalid input for field/attribute os-migrateLive. Additional properties are not allowed ('disk_over_commit' was unexpected)")
            }
            if f.has("force") && (v < Microversion(2, 30) || v >= Microversion(2, 68)) {
                throw APIError.badRequest("Invalid input for field/attribute os-migrateLive. Additional properties are not allowed ('force' was unexpected)")
            }
            // Since 2.34 Nova checks a live migration after answering; the migration records the failure.
            if v < Microversion(2, 34) { try await refuseWithNowhereToGo(.liveMigrate, server, target: host, what: "live migration") }
            try await admission.startMove(.liveMigrate, server.id, by: by, flavor: nil, target: host)
        case "evacuate":
            try adminOnly("os_compute_api:os-evacuate")
            let f = try args()
            if v >= Microversion(2, 14) && f.has("onSharedStorage") { throw APIError.badRequest("Additional properties are not allowed ('onSharedStorage' was unexpected)") }
            if f.has("force") && (v < Microversion(2, 29) || v >= Microversion(2, 68)) { throw APIError.badRequest("Additional properties are not allowed ('force' was unexpected)") }
            let host = try f.string("host", nullable: true)
            let source = try await service.db.read { try await service.placement.providers(in: $0) }.first { $0.host == server.host }
            guard let source, source.forcedDown else {
                throw APIError.badRequest("Compute service of \(server.host ?? "its host") is still in use: only servers of a host that is down can be evacuated.")
            }
            // Since 2.95 an evacuated server arrives stopped.
            try await admission.startMove(.evacuate, server.id, by: by, flavor: nil, target: host, arrivesStopped: v >= Microversion(2, 95))
            // Before 2.14 the answer carried the admin password; no password is set here.
            return v >= Microversion(2, 14) ? .empty(.ok) : .json(.ok, [:])
        case "rebuild": return try await rebuild(server, call, try args())
        case "createImage" where server.isVolumeBacked: return try await createVolumeBackedImage(server, call, try args())
        case "createBackup" where server.isVolumeBacked:
            throw APIError.badRequest("Backups of volume-backed servers are not supported: back up their volumes with Block Storage.")
        case "createImage": return try await createImage(server, call, try args())
        case "createBackup": return try await createBackup(server, call, try args())
        case "shelve" where server.isVolumeBacked:
            // The volumes are the server's disks: shelving keeps them attached and snapshots nothing, as Nova does.
            try await begin(.shelve)
        case "shelve":
            _ = try await beginSnapshot(server, call, action: .shelve, name: server.name + "-shelved",
                                        properties: ["image_type": "snapshot", "instance_uuid": server.id])
        case "shelveOffload":
            // Shelving offloads at once: there is nothing left to do but to check the state.
            try ServerLifecycle.check(.shelveOffload, server)
        case "unshelve":
            let f = try? args()
            let zone = v >= Microversion(2, 77) ? try f?.string("availability_zone", nullable: true) : nil
            let host = v >= Microversion(2, 91) ? try f?.string("host", nullable: true) : nil
            if host != nil { try adminOnly("os_compute_api:os-shelve:unshelve_to_host") }
            try await begin(.unshelve) { s in
                if let zone { s.requestedZone = zone }
                s.moveTarget = host
            }
        case "os-getConsoleOutput":
            let f = try args()
            var length: Int?
            switch f.members["length"] {
            case .int(let n)?: length = Int(n)
            case .string(let s)?: guard let n = Int(s) else { throw APIError.badRequest("Invalid input for field/attribute length.") }; length = n
            case .null?, nil: length = nil
            default: throw APIError.badRequest("Invalid input for field/attribute length.")
            }
            if let l = length, l < -1 { throw APIError.badRequest("Invalid input for field/attribute length. Value: \(l).") }
            guard let host = server.host, [.active, .paused, .rescued, .resized, .stopped, .suspended].contains(server.vmState) else {
                throw APIError.conflict("Instance \(server.id) is not ready to give its console output.")
            }
            let output = try await service.hypervisor.consoleOutput(server.id, host: host, lines: nil)
            // Nova's tail: the last `length` pieces between newlines (a final newline leaves an empty last piece).
            var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if let length, length >= 0 { lines = Array(lines.suffix(length)) }
            return .json(.ok, ["output": .string(lines.joined(separator: "\n"))])
        case "addSecurityGroup", "removeSecurityGroup":
            let group = try args().requiredString("name", maxLength: 255)
            let adding = name == "addSecurityGroup"
            if !adding && !server.securityGroups.contains(group) {
                throw APIError.notFound("Security group \(group) not found on instance \(server.id).")
            }
            if adding && server.securityGroups.contains(group) {
                throw APIError.badRequest("Security group \(group) is already associated with the instance \(server.id)")
            }
            try await NetworkProxyRoutes(service: service).setSecurityGroup(group, on: server, adding: adding)
            try await admission.record(name, server.id, by: by) { s in
                if adding { s.securityGroups.append(group) } else { s.securityGroups.removeAll { $0 == group } }
            }
        case "os-resetState":
            try adminOnly("os_compute_api:os-admin-actions:reset_state")
            let state = try args().requiredString("state")
            guard let target = ["active": VMState.active, "error": .error][state] else {
                throw APIError.badRequest("Invalid input for field/attribute state. Value: \(state). It must be 'active' or 'error'.")
            }
            try await admission.change(.resetState, server.id, by: by) { s in
                ServerLifecycle.settle(&s, after: .resetState, wasRunning: s.powerState == .running, asked: target)
            }
        case "forceDelete":
            try await delete(server, call, force: true)
        case "restore":
            try ServerLifecycle.check(.restore, server)
        case "changePassword":
            _ = try args().requiredString("adminPass")
            try ServerLifecycle.check(.changePassword, server)
        case "trigger_crash_dump":
            guard v >= Microversion(2, 17) else { throw APIError.badRequest("There is no such action: \(name)") }
            try ServerLifecycle.check(.triggerCrashDump, server)
        case "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole", "os-getSerialConsole":
            let type = try args().requiredString("type")
            let allowed = ["os-getVNCConsole": ["novnc", "xvpvnc"], "os-getSPICEConsole": ["spice-html5"],
                           "os-getRDPConsole": ["rdp-html5"], "os-getSerialConsole": ["serial"]][name] ?? []
            guard allowed.contains(type) else { throw APIError.badRequest("Invalid console type \(type).") }
            return .json(.ok, try await ConsoleRoutes(service: service).legacy(server, type: type))
        case "os-resetNetwork":
            try adminOnly("os_compute_api:os-admin-actions:reset_network")
        case "injectNetworkInfo":
            try adminOnly("os_compute_api:os-admin-actions:inject_network_info")
        case "addFloatingIp" where v < Microversion(2, 44):
            let f = try args()
            try await FloatingIPProxyRoutes(service: service).associate(server, call, address: try f.requiredString("address"),
                                                                        fixedAddress: try f.string("fixed_address"))
        case "removeFloatingIp" where v < Microversion(2, 44):
            try await FloatingIPProxyRoutes(service: service).disassociate(server, call, address: try args().requiredString("address"))
        default:
            throw APIError.badRequest("There is no such action: \(name)")
        }
        return .empty(.accepted)
    }

    func requester(_ call: APICall) -> ServerAdmission.Requester {
        ServerAdmission.Requester(requestID: call.context.requestID, userID: call.auth.userID)
    }

    func delete(_ server: Server, _ call: APICall, force: Bool) async throws {
        try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
        try await admission.delete(server.id, force: force, by: requester(call))
    }

    /// Nova's scheduler answers a move with no host named before the API does: 400 when no other host would take it.
    private func refuseWithNowhereToGo(_ action: ServerAction, _ server: Server, target: String?, what: String) async throws {
        guard target == nil, server.host != nil, ServerLifecycle.refusal(action, server) == nil else { return }
        guard try await Workflows(service: service).hasOtherHost(for: server) else {
            throw APIError.badRequest("No valid host was found. No valid host found for \(what).")
        }
    }

    private func resize(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let flavorRef = try ServerInput.reference(f, "flavorRef", required: true) ?? ""
        let flavor = try await service.db.read { db -> Flavor in
            guard let flavor = try await service.flavors.get(flavorRef, in: db),
                  try await service.flavors.visible(flavor, project: server.projectID, isAdmin: call.isComputeAdmin, in: db) else {
                throw APIError.badRequest("Unable to find flavor \(flavorRef).")
            }
            return flavor
        }
        if flavor.id == server.flavor.id { throw APIError.badRequest("When resizing, instances must change flavor!") }
        if flavor.disk < server.flavor.disk { throw APIError.badRequest("Resize error: Unable to resize disk down.") }
        try await admission.startMove(.resize, server.id, by: requester(call), flavor: flavor, target: nil)
        return .empty(.accepted)
    }

    private func rebuild(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let v = service.version(call)
        let imageRef = try ServerInput.reference(f, "imageRef", required: true) ?? ""
        guard UUID(uuidString: imageRef) != nil,
              let image = try await service.images.bootImage(id: imageRef, projectID: server.projectID, isAdmin: call.isComputeAdmin) else {
            throw APIError.badRequest("Cannot find requested image \(imageRef).")
        }
        guard image.status == "active" else { throw APIError.badRequest("Image \(imageRef) is not active.") }
        let bootVolumeImage = try await bootVolumeImage(server, image, v)
        if image.minRam > server.flavor.ram { throw APIError.badRequest("Flavor's memory is too small for requested image.") }
        let name = try f.string("name", minLength: 1, maxLength: 255).map { try ServerInput.validName($0) }
        let metadata = f.has("metadata") ? try ServerInput.metadata(f, "metadata") : nil
        let v4 = try f.string("accessIPv4", nullable: true).map { try ServerInput.address($0, version: 4, field: "accessIPv4") }
        let v6 = try f.string("accessIPv6", nullable: true).map { try ServerInput.address($0, version: 6, field: "accessIPv6") }
        let description = v >= Microversion(2, 19) && f.has("description") ? Optional(try f.string("description", maxLength: 255, nullable: true)) : nil
        let userData = v >= Microversion(2, 57) && f.has("user_data") ? Optional(try f.string("user_data", nullable: true)) : nil
        var key: (name: String?, data: String?)?
        if v >= Microversion(2, 54), f.has("key_name") {
            if let name = try f.string("key_name", minLength: 1, maxLength: 255, nullable: true) {
                guard let pair = try await service.db.read({ try await KeypairStore().get(user: call.auth.userID, name: name, in: $0) }) else {
                    throw APIError.badRequest("Invalid key_name provided.")
                }
                key = (name, pair.publicKey)
            } else {
                key = (nil, nil)
            }
        }
        let newKey = key
        let hostname = v >= Microversion(2, 90) ? try f.string("hostname", minLength: 1, maxLength: 255).map { try ServerInput.validHostname($0, version: v) } : nil
        let password = try f.string("adminPass")
        let diskConfig = try ServerInput.diskConfig(f)
        try await admission.begin(.rebuild, server.id, by: requester(call)) { s in
            // A volume-backed server's image is its volume's: the server names none.
            if s.isVolumeBacked { s.bootVolumeImage = bootVolumeImage } else { s.imageRef = imageRef }
            if let name { s.name = name }
            if let metadata { s.metadata = metadata }
            if let v4 { s.accessIPv4 = v4 }
            if let v6 { s.accessIPv6 = v6 }
            if let description { s.description = description }
            if let userData { s.userData = userData }
            if let newKey { s.keyName = newKey.name; s.keyData = newKey.data }
            if let hostname { s.hostname = hostname }
            if let diskConfig { s.autoDiskConfig = diskConfig == "AUTO" }
        }
        guard let updated = try await service.servers.get(server.id) else { throw ComputeFault.serverNotFound(server.id) }
        let routes = ServerRoutes(service: service)
        var body = v >= Microversion(2, 75) ? try await routes.show(updated, call) : routes.view(call).basic(updated)
        // The rebuild answer carries user data at the top level only.
        if case .object(var fields) = body { fields.removeValue(forKey: "OS-EXT-SRV-ATTR:user_data"); body = .object(fields) }
        if v >= Microversion(2, 54) { body = body.merging(["key_name": JSON(updated.keyName)]) }
        if v >= Microversion(2, 57) { body = body.merging(["user_data": JSON(updated.userData)]) }
        if service.enableInstancePassword { body = body.merging(["adminPass": .string(password ?? AdminPassword.generate())]) }
        return .json(.accepted, ["server": body])
    }

    /// What a rebuild of a volume-backed server writes over its boot volume. From 2.93 the image,
    /// always (Nova's `reimage_boot_volume`), which Block Storage writes over the volume (Cinder's
    /// re-image); before, nothing: the volume's own image spawns the guest again on it, and another
    /// image is a 400, as Nova answers.
    private func bootVolumeImage(_ server: Server, _ image: BootImage, _ v: Microversion) async throws -> String? {
        guard server.isVolumeBacked, let root = server.volumes?.first(where: { $0.device == "/dev/vda" }) else { return nil }
        guard let volumes = service.volumes,
              let volume = try await volumes.volume(id: root.volumeID, projectID: server.projectID) else {
            throw APIError.badRequest("The boot volume \(root.volumeID) of server \(server.id) could not be found.")
        }
        guard v >= Microversion(2, 93) else {
            guard volume.imageID == image.id else { throw APIError.badRequest("Unable to rebuild with a different image for a volume-backed server.") }
            return nil
        }
        let needed = max(image.minDisk, Int(((image.size ?? 0) + (1 << 30) - 1) >> 30))
        guard needed <= volume.sizeGB else {
            throw APIError.badRequest("Volume is smaller than the minimum size specified in image metadata. "
                + "Volume size is \(volume.sizeGB << 30) bytes, minimum size is \(needed << 30) bytes.")
        }
        return image.id
    }

    /// Registers the image a snapshot fills and starts the task; the image goes again if the task cannot start.
    private func beginSnapshot(_ server: Server, _ call: APICall, action: ServerAction, name: String,
                               properties: [String: String]) async throws -> BootImage {
        let image = try await service.images.createSnapshot(
            name: name, projectID: server.projectID, properties: properties, minDisk: server.flavor.disk, minRam: 0,
            diskFormat: "raw", containerFormat: "bare")
        do {
            try await admission.begin(action, server.id, by: requester(call)) { s in
                s.pendingImage = image.id
            }
        } catch {
            try? await service.images.deleteImage(id: image.id)
            throw error
        }
        return image
    }

    private func createImage(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        return try await snapshot(server, call, action: .createImage, name: name, type: "snapshot", metadata: try ServerInput.metadata(f, "metadata"))
    }

    /// `createBackup`: a snapshot marked as a backup of its type, keeping at most `rotation` of them
    /// (the oldest of the server's backups of that type go first, as Nova rotates them).
    private func createBackup(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        let backupType = try f.requiredString("backup_type", minLength: 1, maxLength: 255)
        let given: JSON? = f.members["rotation"]
        let rotation: Int64?
        switch given {
        case .int(let n)?: rotation = n
        case .string(let text)?: rotation = Int64(text)
        default: rotation = nil
        }
        guard let rotation, rotation >= 0 else {
            throw APIError.badRequest("Invalid input for field/attribute rotation. Value: \(f.members["rotation"]?.text ?? "None"). It must be an integer of at least 0.")
        }
        var metadata = try ServerInput.metadata(f, "metadata")
        metadata["backup_type"] = backupType
        let older = try await service.images.visibleImages(projectID: server.projectID, isAdmin: true).filter {
            $0.properties["instance_uuid"] == server.id && $0.properties["image_type"] == "backup" && $0.properties["backup_type"] == backupType
        }.sorted { $0.createdAt > $1.createdAt }
        for excess in older.dropFirst(max(Int(rotation) - 1, 0)) { try await service.images.deleteImage(id: excess.id) }
        return try await snapshot(server, call, action: .createBackup, name: name, type: "backup", metadata: metadata)
    }

    /// An image of the server's disk; what the caller names in `metadata` wins over Nova's own properties.
    private func snapshot(_ server: Server, _ call: APICall, action: ServerAction, name: String, type: String,
                          metadata: [String: String]) async throws -> Response {
        // Checked before the image is registered, and again when the task starts.
        try ServerLifecycle.check(action, server)
        var properties: [String: String] = ["image_type": type, "instance_uuid": server.id, "user_id": call.auth.userID]
        if !server.imageRef.isEmpty { properties["base_image_ref"] = server.imageRef }
        if let source = try await service.images.bootImage(id: server.imageRef, projectID: nil, isAdmin: true) {
            for (key, value) in source.properties where properties[key] == nil && !["image_type", "instance_uuid", "base_image_ref"].contains(key) {
                properties[key] = value
            }
        }
        properties.merge(metadata) { _, asked in asked }
        return imageAnswer(try await beginSnapshot(server, call, action: action, name: name, properties: properties), call)
    }

    /// A snapshot's answer: the image's ID in the body since 2.45, its address in `Location` before.
    private func imageAnswer(_ image: BootImage, _ call: APICall) -> Response {
        if service.version(call) >= Microversion(2, 45) { return .json(.accepted, ["image_id": .string(image.id)]) }
        let base = service.links.base.replacingOccurrences(of: "/compute", with: "/image")
        return .empty(.accepted, headers: [.location: "\(base)/v2/images/\(image.id)"])
    }

    /// Nova's image of a volume-backed server: a snapshot of each of its volumes and an image with
    /// no data whose `block_device_mapping` names them; a server booted from the image gets volumes
    /// made from those snapshots.
    private func createVolumeBackedImage(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let name = try f.requiredString("name", minLength: 1, maxLength: 255)
        let metadata = try ServerInput.metadata(f, "metadata")
        try ServerLifecycle.check(.createImage, server)
        guard let volumes = service.volumes else { throw APIError.badRequest("Images of volume-backed servers need Block Storage.") }
        var mapping: [JSON] = []
        // The root volume first, as Nova lists the mappings by boot index.
        for attached in (server.volumes ?? []).sorted(by: { ($0.device != "/dev/vda" ? 1 : 0, $0.device) < ($1.device != "/dev/vda" ? 1 : 0, $1.device) }) {
            guard let volume = try await volumes.volume(id: attached.volumeID, projectID: server.projectID) else { continue }
            let snapshot = try await volumes.snapshotVolume(id: volume.id, projectID: server.projectID, userID: call.auth.userID,
                                                            name: "snapshot for \(name)", description: nil, force: true)
            mapping.append([
                "source_type": "snapshot", "destination_type": "volume", "snapshot_id": .string(snapshot), "volume_id": .null, "image_id": .null,
                "volume_size": JSON(volume.sizeGB), "boot_index": attached.device == "/dev/vda" ? 0 : .null, "device_name": .string(attached.device),
                "delete_on_termination": .bool(attached.deleteOnTermination), "tag": JSON(attached.tag), "disk_bus": "virtio",
                "device_type": "disk", "guest_format": .null, "volume_type": .null, "no_device": .null,
            ])
        }
        var properties = metadata
        properties["block_device_mapping"] = String(decoding: JSON.array(mapping).serialized(), as: UTF8.self)
        properties["bdm_v2"] = "True"
        properties["root_device_name"] = "/dev/vda"
        let image = try await service.images.createSnapshot(name: name, projectID: server.projectID, properties: properties, minDisk: 0, minRam: 0,
                                                            diskFormat: "raw", containerFormat: "bare")
        // The image holds no bytes: the volumes' snapshots are its data.
        try await service.images.finishSnapshot(id: image.id, data: BufferChunks([]), diskFormat: "raw")
        return imageAnswer(image, call)
    }
}
