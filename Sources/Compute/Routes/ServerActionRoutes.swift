import Foundation
import Hummingbird
import MartletCore
import ServiceContracts
import SQLKit

/// `POST /servers/{id}/action`: one action per request. Each checks the server's state, records the
/// task and the instance action in one transaction, answers, and leaves the work to the conductor.
struct ServerActionRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        r.post("/v2.1/servers/:server_id/action", rule: "os_compute_api:servers:action", loadsTarget: true) { try await act($0) }
    }

    private func act(_ call: APICall) async throws -> Response {
        let server = try await service.visibleServer(call)
        guard case .object(let members) = try await call.body(), members.count == 1, let (name, value) = members.first else {
            throw APIError.badRequest("An action body names exactly one action.")
        }
        let v = service.version(call)
        let isAdmin = call.auth.hasRole("admin")
        func args() throws -> JSONFields {
            if value == .null { return try JSONFields([:], path: name) }
            return try JSONFields(value, path: name)
        }
        func adminOnly() throws {
            guard isAdmin else { throw APIError.forbidden("Policy doesn't allow os_compute_api:os-admin-actions to be performed.") }
        }
        if server.locked && !isAdmin && !["lock", "unlock", "os-getConsoleOutput", "unlock"].contains(name) {
            throw ComputeFault.locked(server)
        }
        switch name {
        case "os-start": try await begin(server, call, "start", from: [.stopped], task: "powering-on")
        case "os-stop": try await begin(server, call, "stop", from: [.active, .error, .rescued], task: "powering-off")
        case "reboot":
            let type = try args().string("type")?.uppercased()
            guard let type, ["SOFT", "HARD"].contains(type) else { throw APIError.badRequest("Invalid input for field/attribute type: SOFT or HARD.") }
            if type == "SOFT" {
                try await begin(server, call, "reboot", from: [.active], task: "rebooting")
            } else {
                try await begin(server, call, "reboot", from: [.active, .stopped, .paused, .suspended, .error], task: "rebooting_hard",
                                overriding: ["rebooting", "reboot_pending", "reboot_started"])
            }
        case "pause": try await begin(server, call, "pause", from: [.active], task: "pausing")
        case "unpause": try await begin(server, call, "unpause", from: [.paused], task: "unpausing")
        case "suspend": try await begin(server, call, "suspend", from: [.active], task: "suspending")
        case "resume": try await begin(server, call, "resume", from: [.suspended], task: "resuming")
        case "lock":
            let reason = v >= Microversion(2, 73) ? try args().string("locked_reason", maxLength: 255) : nil
            try await change(server, call, "lock") { s in s.locked = true; s.lockedReason = reason; s.lockedBy = isAdmin ? "admin" : "owner" }
            return .empty(.accepted)
        case "unlock":
            if server.locked && server.lockedBy == "admin" && !isAdmin {
                throw APIError.forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.")
            }
            try await change(server, call, "unlock") { s in s.locked = false; s.lockedReason = nil; s.lockedBy = nil }
            return .empty(.accepted)
        case "rescue":
            let f = try args()
            let password = try f.string("adminPass")
            let image = try f.string("rescue_image_ref")
            try await begin(server, call, "rescue", from: [.active, .stopped, .error], task: "rescuing") { s in
                s.previousVMState = s.vmState
                s.rescueImageRef = image
            }
            return .json(.ok, service.enableInstancePassword ? ["adminPass": .string(password ?? AdminPassword.generate())] : [:])
        case "unrescue": try await begin(server, call, "unrescue", from: [.rescued], task: "unrescuing")
        case "resize": return try await resize(server, call, try args())
        case "confirmResize":
            try await begin(server, call, "confirmResize", from: [.resized], task: "resize_confirming")
            return .empty(.noContent)
        case "revertResize": try await begin(server, call, "revertResize", from: [.resized], task: "resize_reverting")
        case "migrate":
            try adminOnly()
            let f = try args()
            let host = v >= Microversion(2, 56) ? try f.string("host", nullable: true) : nil
            try await startMove(server, call, kind: "migration", flavor: nil, target: host)
        case "os-migrateLive":
            try adminOnly()
            let f = try args()
            let host = try f.string("host", nullable: true)
            guard f.has("block_migration") else { throw APIError.badRequest("Invalid input for field/attribute os-migrateLive. 'block_migration' is a required property") }
            if v >= Microversion(2, 25) && f.has("disk_over_commit") {
                throw APIError.badRequest("Invalid input for field/attribute os-migrateLive. Additional properties are not allowed ('disk_over_commit' was unexpected)")
            }
            if f.has("force") && (v < Microversion(2, 30) || v >= Microversion(2, 68)) {
                throw APIError.badRequest("Invalid input for field/attribute os-migrateLive. Additional properties are not allowed ('force' was unexpected)")
            }
            try await startMove(server, call, kind: "live-migration", flavor: nil, target: host)
        case "evacuate":
            try adminOnly()
            let f = try args()
            if v >= Microversion(2, 14) && f.has("onSharedStorage") { throw APIError.badRequest("Additional properties are not allowed ('onSharedStorage' was unexpected)") }
            if f.has("force") && (v < Microversion(2, 29) || v >= Microversion(2, 68)) { throw APIError.badRequest("Additional properties are not allowed ('force' was unexpected)") }
            let host = try f.string("host", nullable: true)
            let source = try await service.db.read { try await service.placement.providers(in: $0) }.first { $0.host == server.host }
            guard let source, source.forcedDown else {
                throw APIError.badRequest("Compute service of \(server.host ?? "its host") is still in use: only servers of a host that is down can be evacuated.")
            }
            try await startMove(server, call, kind: "evacuation", flavor: nil, target: host)
            // Before 2.14 the answer carried the admin password; no password is set here.
            return v >= Microversion(2, 14) ? .empty(.ok) : .json(.ok, [:])
        case "rebuild": return try await rebuild(server, call, try args())
        case "createImage": return try await createImage(server, call, try args())
        case "createBackup": return try await createBackup(server, call, try args())
        case "shelve":
            _ = try await beginSnapshot(server, call, action: "shelve", task: "shelving", name: server.name + "-shelved",
                                        properties: ["image_type": "snapshot", "instance_uuid": server.id])
        case "shelveOffload":
            guard [.shelved, .shelvedOffloaded].contains(server.vmState) else { throw ComputeFault.invalidState(server, action: name) }
        case "unshelve":
            let f = try? args()
            let zone = v >= Microversion(2, 77) ? try f?.string("availability_zone", nullable: true) : nil
            let host = v >= Microversion(2, 91) ? try f?.string("host", nullable: true) : nil
            if host != nil { try adminOnly() }
            try await begin(server, call, "unshelve", from: [.shelved, .shelvedOffloaded], task: "unshelving") { s in
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
            try await change(server, call, name) { s in
                if adding { s.securityGroups.append(group) } else { s.securityGroups.removeAll { $0 == group } }
            }
        case "os-resetState":
            try adminOnly()
            let state = try args().requiredString("state")
            guard let target = ["active": VMState.active, "error": .error][state] else {
                throw APIError.badRequest("Invalid input for field/attribute state. Value: \(state). It must be 'active' or 'error'.")
            }
            try await change(server, call, "resetState") { s in s.vmState = target; s.taskState = nil }
        case "forceDelete":
            try await delete(server, call, force: true)
        case "restore":
            throw ComputeFault.invalidState(server, action: name)
        case "changePassword":
            _ = try args().requiredString("adminPass")
            guard server.vmState == .active else { throw ComputeFault.invalidState(server, action: name) }
        case "trigger_crash_dump":
            guard v >= Microversion(2, 17) else { throw APIError.badRequest("There is no such action: \(name)") }
            guard server.vmState == .active else { throw ComputeFault.invalidState(server, action: name) }
        case "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole", "os-getSerialConsole":
            let type = try args().requiredString("type")
            let allowed = ["os-getVNCConsole": ["novnc", "xvpvnc"], "os-getSPICEConsole": ["spice-html5"],
                           "os-getRDPConsole": ["rdp-html5"], "os-getSerialConsole": ["serial"]][name] ?? []
            guard allowed.contains(type) else { throw APIError.badRequest("Invalid console type \(type).") }
            return .json(.ok, try await ConsoleRoutes(service: service).legacy(server, type: type))
        case "os-resetNetwork", "injectNetworkInfo":
            try adminOnly()
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

    /// Moves the server into a task when its state allows, recording the action; the conductor does the rest.
    private func begin(_ server: Server, _ call: APICall, _ action: String, from states: Set<VMState>, task: String,
                       overriding: Set<String> = [], _ adjust: @Sendable (inout Server) throws -> Void = { _ in }) async throws {
        try await service.db.transaction { db in
            guard var s = try await service.servers.get(server.id, in: db) else { throw ComputeFault.serverNotFound(server.id) }
            guard states.contains(s.vmState), s.taskState == nil || overriding.contains(s.taskState ?? "") else {
                throw ComputeFault.invalidState(s, action: action)
            }
            try adjust(&s)
            s.taskState = task
            try await service.servers.update(s, in: db)
            try await service.actions.start(action, server: s.id, requestID: call.context.requestID, userID: call.auth.userID,
                                            projectID: s.projectID, in: db)
        }
        service.conductor.converge(server.id, service)
    }

    /// Changes the server at once (no conductor work), recording the action.
    private func change(_ server: Server, _ call: APICall, _ action: String, _ apply: @Sendable (inout Server) -> Void) async throws {
        try await service.db.transaction { db in
            guard var s = try await service.servers.get(server.id, in: db) else { throw ComputeFault.serverNotFound(server.id) }
            apply(&s)
            try await service.servers.update(s, in: db)
            try await service.actions.start(action, server: s.id, requestID: call.context.requestID, userID: call.auth.userID,
                                            projectID: s.projectID, in: db)
            try await service.actions.finish(server: s.id, host: s.host, error: nil, in: db)
        }
    }

    func delete(_ server: Server, _ call: APICall, force: Bool) async throws {
        if server.locked && !call.auth.hasRole("admin") { throw ComputeFault.locked(server) }
        try await service.db.transaction { db in
            guard var s = try await service.servers.get(server.id, in: db) else { throw ComputeFault.serverNotFound(server.id) }
            if s.taskState == "deleting" { return }
            s.taskState = "deleting"
            try await service.servers.update(s, in: db)
            try await service.actions.start("delete", server: s.id, requestID: call.context.requestID, userID: call.auth.userID,
                                            projectID: s.projectID, in: db)
        }
        service.conductor.converge(server.id, service)
    }

    private func resize(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let flavorRef = try ServerInput.reference(f, "flavorRef", required: true) ?? ""
        let flavor = try await service.db.read { db -> Flavor in
            guard let flavor = try await service.flavors.get(flavorRef, in: db),
                  try await service.flavors.visible(flavor, project: server.projectID, isAdmin: call.auth.hasRole("admin"), in: db) else {
                throw APIError.badRequest("Unable to find flavor \(flavorRef).")
            }
            return flavor
        }
        if flavor.id == server.flavor.id { throw APIError.badRequest("When resizing, instances must change flavor!") }
        if flavor.disk < server.flavor.disk { throw APIError.badRequest("Resize error: Unable to resize disk down.") }
        try await startMove(server, call, kind: "resize", flavor: flavor, target: nil)
        return .empty(.accepted)
    }

    /// Starts a resize or migration: quota for the bigger flavor, a migration record, the task.
    private func startMove(_ server: Server, _ call: APICall, kind: String, flavor: Flavor?, target: String?) async throws {
        let action = kind == "resize" ? "resize" : kind == "migration" ? "migrate" : kind == "evacuation" ? "evacuate" : "live-migration"
        let allowed: Set<VMState> = kind == "live-migration" ? [.active, .paused] : kind == "evacuation" ? [.active, .stopped, .error] : [.active, .stopped]
        try await service.db.transaction { db in
            try await service.placement.lock(db)
            guard var s = try await service.servers.get(server.id, in: db) else { throw ComputeFault.serverNotFound(server.id) }
            guard allowed.contains(s.vmState), s.taskState == nil else { throw ComputeFault.invalidState(s, action: action) }
            if let target, try await service.placement.providers(in: db).contains(where: { $0.host == target }) == false {
                throw APIError.badRequest("Compute host \(target) could not be found.")
            }
            if let target, target == s.host { throw APIError.badRequest("The target host can't be the same one.") }
            if let flavor {
                let limits = try await service.quotas.limits(s.projectID, in: db)
                let used = try await service.servers.usage(project: s.projectID, in: db)
                for (resource, grow, inUse) in [("cores", flavor.vcpus - s.flavor.vcpus, used.cores), ("ram", flavor.ram - s.flavor.ram, used.ram)] {
                    if grow > 0, let limit = limits[resource], limit >= 0, inUse + grow > limit {
                        throw ComputeFault.quotaExceeded(resource, requested: grow, used: inUse, allowed: limit)
                    }
                }
            }
            s.oldFlavor = s.flavor
            if let flavor { s.flavor = flavor.snapshot }
            // Since 2.95 an evacuated server arrives stopped.
            s.previousVMState = kind == "evacuation" && service.version(call) >= Microversion(2, 95) ? .stopped : s.vmState
            s.moveKind = kind
            s.moveSource = s.host
            s.moveTarget = target
            s.migrationID = try await Migrations().create(server: s, kind: kind, in: db)
            s.taskState = kind == "live-migration" ? "migrating" : kind == "evacuation" ? "rebuilding" : "resize_prep"
            try await service.servers.update(s, in: db)
            try await service.actions.start(action, server: s.id, requestID: call.context.requestID, userID: call.auth.userID,
                                            projectID: s.projectID, in: db)
        }
        service.conductor.converge(server.id, service)
    }

    private func rebuild(_ server: Server, _ call: APICall, _ f: JSONFields) async throws -> Response {
        let v = service.version(call)
        let imageRef = try ServerInput.reference(f, "imageRef", required: true) ?? ""
        guard UUID(uuidString: imageRef) != nil,
              let image = try await service.images.bootImage(id: imageRef, projectID: server.projectID, isAdmin: call.auth.hasRole("admin")) else {
            throw APIError.badRequest("Cannot find requested image \(imageRef).")
        }
        guard image.status == "active" else { throw APIError.badRequest("Image \(imageRef) is not active.") }
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
        try await begin(server, call, "rebuild", from: [.active, .stopped, .error], task: "rebuilding") { s in
            s.imageRef = imageRef
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

    /// Registers the image a snapshot fills and starts the task; the image goes again if the task cannot start.
    private func beginSnapshot(_ server: Server, _ call: APICall, action: String, task: String, name: String,
                               properties: [String: String]) async throws -> BootImage {
        let image = try await service.images.createSnapshot(
            name: name, projectID: server.projectID, properties: properties, minDisk: server.flavor.disk, minRam: 0,
            diskFormat: "raw", containerFormat: "bare")
        do {
            try await begin(server, call, action, from: [.active, .stopped, .paused, .suspended], task: task) { s in
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
        return try await snapshot(server, call, action: "createImage", name: name, type: "snapshot", metadata: try ServerInput.metadata(f, "metadata"))
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
        return try await snapshot(server, call, action: "createBackup", name: name, type: "backup", metadata: metadata)
    }

    /// An image of the server's disk; what the caller names in `metadata` wins over Nova's own properties.
    private func snapshot(_ server: Server, _ call: APICall, action: String, name: String, type: String,
                          metadata: [String: String]) async throws -> Response {
        guard [.active, .stopped, .paused, .suspended].contains(server.vmState), server.taskState == nil else {
            throw ComputeFault.invalidState(server, action: action)
        }
        var properties: [String: String] = ["image_type": type, "instance_uuid": server.id, "user_id": call.auth.userID]
        if !server.imageRef.isEmpty { properties["base_image_ref"] = server.imageRef }
        if let source = try await service.images.bootImage(id: server.imageRef, projectID: nil, isAdmin: true) {
            for (key, value) in source.properties where properties[key] == nil && !["image_type", "instance_uuid", "base_image_ref"].contains(key) {
                properties[key] = value
            }
        }
        properties.merge(metadata) { _, asked in asked }
        let image = try await beginSnapshot(server, call, action: action, task: "image_snapshot", name: name, properties: properties)
        if service.version(call) >= Microversion(2, 45) { return .json(.accepted, ["image_id": .string(image.id)]) }
        let base = service.links.base.replacingOccurrences(of: "/compute", with: "/image")
        return .empty(.accepted, headers: [.location: "\(base)/v2/images/\(image.id)"])
    }
}
