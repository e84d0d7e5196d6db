import DriverKit
import Foundation
import MartletCore
import MartletStore
import ServiceContracts
import SQLKit

/// The conductor's steps. `converge` reads what the server's states ask for and does the next
/// thing; each step commits before the next begins and can be repeated, so a restart anywhere
/// resumes where it stopped.
struct Workflows: Sendable {
    let service: ComputeService
    var servers: ServerStore { service.servers }
    var hypervisor: any Hypervisor { service.hypervisor }
    var placement: Placement { service.placement }

    struct NoValidHost: Error {}
    /// Nova's words when the network does not say a server's ports are wired in time.
    struct VirtualInterfaceCreateFailed: Error {}

    /// Throws what the reconcile queue should retry: a stopping process (the step is repeated after
    /// the restart), a driver's transient failure and a database's (a transaction past its deadline
    /// on a loaded host). Any other failure ends the task in ERROR.
    func converge(_ id: String) async throws {
        guard let server = try await servers.get(id) else { return }
        do {
            if server.vmState == .building && server.taskState != .deleting {
                try await build(server)
                return
            }
            guard let task = server.taskState, let action = ServerLifecycle.action(running: task, moveKind: server.moveKind) else { return }
            switch action {
            case .delete, .forceDelete: try await delete(server)
            case .start: try await power(server, .start, action)
            case .stop: try await power(server, .stop, action)
            case .rebootSoft: try await power(server, .softReboot, action)
            case .rebootHard: try await power(server, .hardReboot, action)
            case .pause: try await power(server, .pause, action)
            case .unpause: try await power(server, .unpause, action)
            case .suspend: try await power(server, .suspend, action)
            case .resume: try await power(server, .resume, action)
            case .rescue: try await power(server, .rescue, action)
            case .unrescue: try await power(server, .unrescue, action)
            case .evacuate: try await evacuate(server)
            case .rebuild: try await rebuild(server)
            case .resize, .migrate, .liveMigrate: try await move(server)
            case .confirmResize: try await confirmMove(server)
            case .revertResize: try await revertMove(server)
            case .createImage, .createBackup: try await snapshot(server)
            case .shelve: try await shelve(server)
            case .unshelve: try await unshelve(server)
            // Builds are handled above (a build is its vm_state, not its task); the rest are made at once by admission.
            case .create, .shelveOffload, .restore, .lock, .unlock, .resetState, .changePassword, .triggerCrashDump, .attachInterface,
                 .attachVolume, .detachVolume: return
            }
        } catch where Task.isCancelled || error is CancellationError || (error as? DriverError)?.isTransient == true
                    || Database.isTransient(error) {
            throw error
        } catch {
            await fail(id, error)
        }
    }

    // MARK: Build

    private func build(_ server: Server) async throws {
        var server = server
        if server.host == nil {
            server = try await service.placements.submit(server.id) { ids in await placeAll(ids) }
        }
        guard let host = server.host else { return }
        if case .list(let requested) = server.networks, !requested.isEmpty, server.addresses.isEmpty {
            server = try await plugPorts(server, requested, host: host)
        }
        try await waitUntilWired(server)
        if let devices = server.blockDevices, !devices.isEmpty {
            // Only the volumes come from the stored server: its ports are recorded below, with the state.
            let stored = try await VolumeAttacher(service: service).attachRequested(devices, to: server, host: host)
            (server.volumes, server.blockDevices) = (stored.volumes, nil)
        }
        try await hypervisor.spawn(try await spec(server, host: host, powerOn: true))
        // The ports' addresses are recorded with the state: a restart before this finds the ports by device.
        let ports = (addresses: server.addresses, owned: server.ownedPorts, tags: server.interfaceTags)
        try await settle(server.id) { s in
            (s.addresses, s.ownedPorts, s.interfaceTags) = ports
            ServerLifecycle.settle(&s, after: .create, wasRunning: true)
            s.launchedAt = Date().timeIntervalSince1970
        }
    }

    /// What a batch of placements shares: every host's usage, read once, which each claim counts
    /// against the next server; and the architecture of each image met so far.
    private struct PlacementBatch {
        var hosts: [Scheduler.Host]
        var architectures: [String: String?] = [:]
    }

    /// Places new servers in one transaction.
    private func placeAll(_ ids: [String]) async -> [Result<Server, any Error>] {
        await service.db.transaction(each: ids, prepare: { db in
            try await placement.lock(db)
            return PlacementBatch(hosts: try await placement.hosts(architectures: service.architectures, in: db))
        }) { id, batch, db in
            guard var s = try await servers.get(id, in: db) else { throw ComputeFault.serverNotFound(id) }
            guard s.host == nil else { return s }
            if batch.architectures[s.imageRef] == nil { batch.architectures[s.imageRef] = .some(try await imageArchitecture(s)) }
            let request = try await schedulingRequest(s, flavor: s.flavor, architecture: batch.architectures[s.imageRef] ?? nil, in: db)
            guard let chosen = service.scheduler.rank(batch.hosts, for: request).first,
                  let index = batch.hosts.firstIndex(where: { $0.name == chosen.name }) else { throw NoValidHost() }
            try await placement.claim(s.id, host: chosen.name, s.flavor, in: db)
            s.host = chosen.name
            s.availabilityZone = chosen.zone
            try await servers.update(s, in: db)
            batch.hosts[index].usedVCPUs += s.flavor.vcpus
            batch.hosts[index].usedMemoryMB += s.flavor.ram
            batch.hosts[index].usedDiskGB += Placement.diskGB(s.flavor)
            return s
        }
    }

    /// Whether a host other than the server's own would take it now: what Nova's API asks the
    /// scheduler before it accepts a cold migration.
    func hasOtherHost(for server: Server) async throws -> Bool {
        let architecture = try await imageArchitecture(server)
        return try await service.db.read { db in
            var request = try await schedulingRequest(server, flavor: server.flavor, architecture: architecture, in: db)
            request.excluded = Set([server.host].compactMap { $0 })
            return !service.scheduler.rank(try await placement.hosts(architectures: service.architectures, in: db), for: request).isEmpty
        }
    }

    /// Picks a host and claims the flavor on it in one transaction, which also names it the
    /// destination of the migration, if any.
    private func schedule(_ server: Server, excluding: Set<String>, flavor: FlavorSnapshot? = nil, allowSame: String? = nil,
                          migration: String? = nil) async throws -> Server {
        try await service.db.transaction { db in
            try await placement.lock(db)
            guard var s = try await servers.get(server.id, in: db) else { throw APIError.notFound("gone") }
            let hosts = try await placement.hosts(architectures: service.architectures, in: db)
            var request = try await schedulingRequest(s, flavor: flavor ?? s.flavor, architecture: try await imageArchitecture(s), in: db)
            request.excluded = excluding
            var ranked = service.scheduler.rank(hosts, for: request)
            if ranked.isEmpty, let allowSame {
                request.excluded.remove(allowSame)
                ranked = service.scheduler.rank(hosts, for: request)
            }
            guard let chosen = ranked.first else { throw NoValidHost() }
            try await placement.claim(s.id, host: chosen.name, flavor ?? s.flavor, in: db)
            if let migration { try await Migrations().setDestination(migration, chosen.name, in: db) }
            s.host = chosen.name
            s.availabilityZone = chosen.zone
            try await servers.update(s, in: db)
            return s
        }
    }

    private func schedulingRequest(_ s: Server, flavor: FlavorSnapshot, architecture: String?, in db: any SQLDatabase) async throws -> Scheduler.Request {
        var zone = s.requestedZone, forced: String?
        if let z = zone, let colon = z.firstIndex(of: ":") {
            forced = String(z[z.index(after: colon)...]).split(separator: ":").first.map(String.init)
            zone = z[..<colon].isEmpty ? nil : String(z[..<colon])
        }
        var request = Scheduler.Request(vcpus: flavor.vcpus, memoryMB: flavor.ram, diskGB: Placement.diskGB(flavor),
                                        zone: zone, forcedHost: forced ?? s.moveTarget, architecture: architecture, groupPolicy: nil,
                                        groupHosts: [], maxServersPerHost: nil, sameHost: nil, differentHost: [], excluded: [])
        if let group = try await ServerGroups().group(ofServer: s.id, in: db) {
            request.groupPolicy = group.policy
            request.maxServersPerHost = group.rules["max_server_per_host"].flatMap { Int($0) }
            request.groupHosts = try await hosts(of: group.members.filter { $0 != s.id }, in: db)
        }
        if let same = s.schedulerHints["same_host"] { request.sameHost = Set(try await hosts(of: same, in: db)) }
        if let different = s.schedulerHints["different_host"] { request.differentHost = Set(try await hosts(of: different, in: db)) }
        return request
    }

    private func imageArchitecture(_ s: Server) async throws -> String? {
        guard !s.imageRef.isEmpty, let image = try await service.images.bootImage(id: s.imageRef, projectID: nil, isAdmin: true) else { return nil }
        return image.properties["architecture"] ?? image.properties["hw_architecture"]
    }

    private func hosts(of ids: [String], in db: any SQLDatabase) async throws -> [String] {
        var hosts: [String] = []
        for id in ids { if let host = try await servers.get(id, in: db)?.host { hosts.append(host) } }
        return hosts
    }

    /// A guest starts once its ports are wired (a guest whose first DHCP request finds no filter
    /// or no DHCP entry yet boots without an address), as Nova's `vif_plugging_timeout` and
    /// `vif_plugging_is_fatal` have it.
    private func waitUntilWired(_ server: Server) async throws {
        let ports = Array(Set(server.addresses.map(\.portID))).sorted()
        guard !ports.isEmpty, service.vifPluggingTimeout > 0 else { return }
        if try await service.ports.waitUntilWired(ports, timeout: .seconds(service.vifPluggingTimeout)) { return }
        if service.vifPluggingIsFatal { throw VirtualInterfaceCreateFailed() }
        service.logger.warning("ports not wired in time; starting the server anyway", metadata: ["server": "\(server.id)"])
    }

    /// Makes and binds the server's ports (all or none, or finds those a run before made); returns the
    /// server with their addresses, for the caller to record.
    private func plugPorts(_ server: Server, _ requested: [RequestedNetwork], host: String) async throws -> Server {
        var allocated = try await service.ports.ports(of: server.portRef)
        if allocated.isEmpty {
            // Only the project's default group is what a port gets anyway.
            let groups = server.securityGroups == ["default"] ? nil : server.securityGroups
            let requests = requested.map { PortRequest(networkID: $0.networkID, portID: $0.portID, fixedIP: $0.fixedIP,
                                                       securityGroups: $0.portID == nil ? groups : nil) }
            let consumer = PortConsumer(deviceID: server.id, projectID: server.projectID, host: host,
                                        availabilityZone: server.availabilityZone ?? "nova")
            allocated = try await service.ports.allocate(requests, for: consumer)
        }
        // Ports the request did not bring were made for the server, and go with it.
        let brought = Set(requested.compactMap(\.portID))
        let owned = allocated.map(\.id).filter { !brought.contains($0) }
        var tags: [String: String] = [:]
        for (request, port) in zip(requested, allocated) { if let tag = request.tag { tags[port.id] = tag } }
        var plugged = server
        plugged.addresses = Self.addresses(allocated)
        plugged.ownedPorts = owned
        if !tags.isEmpty { plugged.interfaceTags = tags }
        return plugged
    }

    static func addresses(_ ports: [AllocatedPort]) -> [ServerAddress] {
        ports.flatMap { port in
            port.fixedIPs.map { ip in
                ServerAddress(network: port.networkName.isEmpty ? port.networkID : port.networkName, address: ip.address,
                              version: ip.address.contains(":") ? 6 : 4, mac: port.macAddress, type: "fixed", portID: port.id)
            }
        }
    }

    /// What the hypervisor needs to run the server: its flavor, its image as the Image service
    /// describes it, its ports, and the instance data a config drive carries.
    func spec(_ s: Server, host: String, powerOn: Bool, imageRef: String? = nil) async throws -> InstanceSpec {
        var seen = Set<String>()
        let ports = s.addresses.filter { seen.insert($0.portID).inserted }.map { address in
            InstancePort(id: address.portID, mac: address.mac, mtu: 1500,
                         fixedIPs: s.addresses.filter { $0.portID == address.portID && $0.type == "fixed" }.map(\.address))
        }
        let imageID = imageRef ?? s.imageRef
        var image = InstanceImage(id: imageID)
        if !imageID.isEmpty, let found = try await service.images.bootImage(id: imageID, projectID: nil, isAdmin: true) {
            image = InstanceImage(id: found.id, diskFormat: found.diskFormat, containerFormat: found.containerFormat, size: found.size,
                                  minDisk: found.minDisk, checksum: found.checksum, properties: found.properties)
        }
        return InstanceSpec(id: s.id, name: s.name, host: host, vcpus: s.flavor.vcpus, memoryMB: s.flavor.ram, diskGB: s.flavor.disk,
                            ephemeralGB: s.flavor.ephemeral, swapMB: s.flavor.swap, image: image,
                            ports: ports, volumes: (s.volumes ?? []).map { InstanceVolume(volumeID: $0.volumeID, device: $0.device, connection: $0.connection) },
                            userData: s.userData, keyData: s.keyData, configDrive: s.configDrive, metadata: s.metadata,
                            instanceFiles: InstanceData(server: s).configDriveFiles(), powerOn: powerOn)
    }

    /// Puts a settled server back on its host after the hypervisor lost it (the fake one forgets on restart).
    func respawn(_ s: Server) async throws {
        guard let host = s.host, ![.building, .shelvedOffloaded, .error].contains(s.vmState) else { return }
        try await hypervisor.spawn(try await spec(s, host: host, powerOn: false))
        switch s.vmState {
        case .active, .rescued, .resized: try await hypervisor.setPower(s.id, host: host, .start)
        case .paused: try await hypervisor.setPower(s.id, host: host, .pause)
        case .suspended: try await hypervisor.setPower(s.id, host: host, .suspend)
        default: break
        }
    }

    private func present(_ s: Server) async throws -> String {
        guard let host = s.host else { throw APIError.conflict("Instance \(s.id) has no host.") }
        if await hypervisor.powerState(s.id, host: host) == nil { try await respawn(s) }
        return host
    }

    // MARK: Tasks

    private func power(_ s: Server, _ power: PowerAction, _ action: ServerAction) async throws {
        let host = try await present(s)
        try await hypervisor.setPower(s.id, host: host, power)
        try await settle(s.id) { s in ServerLifecycle.settle(&s, after: action, wasRunning: true) }
    }

    private func rebuild(_ s: Server) async throws {
        let host = try await present(s)
        let wasStopped = s.vmState == .stopped
        try await hypervisor.destroy(s.id, host: host)
        // A volume-backed server's new image goes over its boot volume while no guest holds it (2.93).
        if let image = s.bootVolumeImage, let root = s.volumes?.first(where: { $0.device == "/dev/vda" }) {
            guard let volumes = service.volumes else { throw APIError.badRequest("Rebuilding a volume-backed server needs Block Storage.") }
            try await volumes.reimageVolume(id: root.volumeID, imageID: image, for: s.portRef)
        }
        try await hypervisor.spawn(try await spec(s, host: host, powerOn: !wasStopped))
        // The guest's taps are new: the data plane plugs them again, as after a move.
        try await service.ports.rebind(s.portRef, host: host)
        try await settle(s.id) { s in
            ServerLifecycle.settle(&s, after: .rebuild, wasRunning: !wasStopped)
            s.launchedAt = Date().timeIntervalSince1970
            s.bootVolumeImage = nil
        }
    }

    /// Resize, cold and live migration: claim on a new host, keep the old claim under the migration,
    /// then move the server. Resize and cold migration wait in VERIFY_RESIZE for confirm or revert.
    private func move(_ s: Server) async throws {
        guard let migration = s.migrationID, let source = s.moveSource else { throw APIError.conflict("No move in progress.") }
        var s = s
        // The migration names its destination once the new host is claimed (a resize may claim the
        // host it is on, so the server's host cannot tell); a restart before that schedules again.
        let scheduled = try await service.db.read { try await Migrations().list("uuid = \(bind: migration)", in: $0).first?.destination } != nil
        if !scheduled {
            _ = try await present(s)
            try await service.db.transaction { db in
                try await placement.lock(db)
                // Repeated after a restart it moves nothing: the server holds no claim of its own by then.
                try await placement.transfer(from: s.id, to: migration, in: db)
                try await Migrations().setStatus(migration, "pre-migrating", in: db)
            }
            let sameHostAllowed = s.moveKind == "resize" ? source : nil
            do {
                s = try await schedule(s, excluding: [source], allowSame: sameHostAllowed, migration: migration)
            } catch {
                try await service.db.transaction { db in
                    try await placement.release(s.id, in: db)
                    try await placement.transfer(from: migration, to: s.id, in: db)
                    try await Migrations().setStatus(migration, "error", in: db)
                }
                guard error is NoValidHost else { throw error }
                // As in Nova, a move with nowhere to go leaves the server as it was; the action records why.
                let what = ["resize": "resize", "live-migration": "live migration"][s.moveKind ?? ""] ?? "cold migrate"
                try await settle(s.id, error: "No valid host was found. No valid host found for \(what).") { s in
                    s.vmState = s.previousVMState ?? .active
                    s.taskState = nil
                    if let old = s.oldFlavor { s.flavor = old }
                    s.oldFlavor = nil
                    s.endMove()
                }
                return
            }
        }
        guard let destination = s.host else { return }
        let running = s.previousVMState != .stopped
        if destination != source { try await hypervisor.destroy(s.id, host: source) }
        try await hypervisor.spawn(try await spec(s, host: destination, powerOn: running))
        try await service.ports.rebind(s.portRef, host: destination)
        if s.moveKind == "live-migration" {
            try await service.db.transaction { db in
                try await placement.release(migration, in: db)
                try await Migrations().setStatus(migration, "completed", in: db)
            }
            try await settle(s.id) { s in
                ServerLifecycle.settle(&s, after: .liveMigrate, wasRunning: running)
                s.endMove()
            }
            return
        }
        try await service.db.transaction { db in try await Migrations().setStatus(migration, "finished", in: db) }
        let action: ServerAction = s.moveKind == "resize" ? .resize : .migrate
        try await settle(s.id) { s in ServerLifecycle.settle(&s, after: action, wasRunning: running) }
    }

    /// Rebuilds a server of a down host on another one; its old claim goes with the migration.
    private func evacuate(_ s: Server) async throws {
        guard let migration = s.migrationID, let source = s.moveSource else { throw APIError.conflict("No evacuation in progress.") }
        var s = s
        if s.host == source {
            try await service.db.transaction { db in
                try await placement.lock(db)
                try await placement.transfer(from: s.id, to: migration, in: db)
            }
            s = try await schedule(s, excluding: [source])
        }
        guard let destination = s.host else { return }
        let running = s.previousVMState != .stopped
        try await hypervisor.spawn(try await spec(s, host: destination, powerOn: running))
        try await service.ports.rebind(s.portRef, host: destination)
        try await service.db.transaction { db in
            try await placement.release(migration, in: db)
            try await Migrations().setStatus(migration, "done", in: db)
            try await Migrations().setDestination(migration, destination, in: db)
        }
        try await settle(s.id) { s in
            ServerLifecycle.settle(&s, after: .evacuate, wasRunning: running)
            s.endMove()
        }
    }

    private func confirmMove(_ s: Server) async throws {
        try await service.db.transaction { db in
            if let migration = s.migrationID {
                try await placement.release(migration, in: db)
                try await Migrations().setStatus(migration, "confirmed", in: db)
            }
        }
        try await settle(s.id) { s in
            ServerLifecycle.settle(&s, after: .confirmResize, wasRunning: s.previousVMState != .stopped)
            s.oldFlavor = nil
            s.endMove()
        }
    }

    private func revertMove(_ s: Server) async throws {
        guard let migration = s.migrationID, let source = s.moveSource else { throw APIError.conflict("No move to revert.") }
        var back = s
        back.flavor = s.oldFlavor ?? s.flavor
        let running = s.previousVMState != .stopped
        if let destination = s.host, destination != source { try await hypervisor.destroy(s.id, host: destination) }
        try await hypervisor.spawn(try await spec(back, host: source, powerOn: running))
        try await service.ports.rebind(s.portRef, host: source)
        try await service.db.transaction { db in
            try await placement.lock(db)
            try await placement.release(s.id, in: db)
            try await placement.transfer(from: migration, to: s.id, in: db)
            try await Migrations().setStatus(migration, "reverted", in: db)
        }
        try await settle(s.id) { s in
            s.flavor = s.oldFlavor ?? s.flavor
            s.oldFlavor = nil
            s.host = source
            ServerLifecycle.settle(&s, after: .revertResize, wasRunning: running)
            s.endMove()
        }
    }

    private func snapshot(_ s: Server) async throws {
        let host = try await present(s)
        if let image = s.pendingImage {
            do {
                let disk = try await hypervisor.snapshot(s.id, host: host)
                try await service.images.finishSnapshot(id: image, data: disk.chunks, diskFormat: disk.diskFormat)
            } catch {
                // The user deleted the image while it was being made: the snapshot simply ends, as in Nova.
                let deleted = (try? await service.images.bootImage(id: image, projectID: nil, isAdmin: true)) == nil
                if !deleted {
                    try? await service.images.deleteImage(id: image)
                    throw error
                }
            }
        }
        try await settle(s.id) { s in
            ServerLifecycle.settle(&s, after: .createImage, wasRunning: s.powerState == .running)
            s.pendingImage = nil
        }
    }

    /// Shelving keeps a snapshot and frees the host at once (Nova with `shelved_offload_time = 0`).
    private func shelve(_ s: Server) async throws {
        let host = try await present(s)
        if let image = s.pendingImage {
            let disk = try await hypervisor.snapshot(s.id, host: host)
            try await service.images.finishSnapshot(id: image, data: disk.chunks, diskFormat: disk.diskFormat)
        }
        try await hypervisor.destroy(s.id, host: host)
        try await service.db.transaction { db in try await placement.release(s.id, in: db) }
        try await settle(s.id) { s in
            ServerLifecycle.settle(&s, after: .shelve, wasRunning: false)
            s.host = nil
        }
    }

    private func unshelve(_ s: Server) async throws {
        var s = s
        if s.host == nil { s = try await schedule(s, excluding: []) }
        guard let host = s.host else { return }
        try await service.ports.rebind(s.portRef, host: host)
        try await hypervisor.spawn(try await spec(s, host: host, powerOn: true, imageRef: s.pendingImage))
        if let image = s.pendingImage { try? await service.images.deleteImage(id: image) }
        try await settle(s.id) { s in
            ServerLifecycle.settle(&s, after: .unshelve, wasRunning: true)
            s.pendingImage = nil
        }
    }

    private func delete(_ s: Server) async throws {
        if let host = s.host { try await hypervisor.destroy(s.id, host: host) }
        if let source = s.moveSource, source != s.host { try await hypervisor.destroy(s.id, host: source) }
        try await service.ports.release(s.portRef, deleting: Set(s.ownedPorts))
        try await VolumeAttacher(service: service).releaseAll(of: s)
        try await service.db.transaction { db in
            try await placement.release(s.id, in: db)
            if let migration = s.migrationID { try await placement.release(migration, in: db) }
            try await servers.delete(s.id, in: db)
        }
        if let image = s.pendingImage, s.vmState == .shelvedOffloaded { try? await service.images.deleteImage(id: image) }
    }

    // MARK: Bookkeeping

    /// A change to record on a server when a step ends.
    struct Settlement: Sendable {
        let id: String
        let error: String?
        let change: @Sendable (inout Server) -> Void
    }

    /// Applies `change` to the stored server and closes its open action event, committed with the
    /// other steps that end meanwhile.
    @discardableResult
    func settle(_ id: String, error: String? = nil, _ change: @escaping @Sendable (inout Server) -> Void) async throws -> Server {
        try await service.settlements.submit(Settlement(id: id, error: error, change: change)) { batch in await settleAll(batch) }
    }

    private func settleAll(_ batch: [Settlement]) async -> [Result<Server, any Error>] {
        await service.db.transaction(each: batch) { item, db in
            guard var s = try await servers.get(item.id, in: db) else { throw APIError.notFound("Instance \(item.id) could not be found.") }
            // A delete asked for meanwhile outlives the step that finishes here.
            let deleting = s.taskState == .deleting
            item.change(&s)
            if deleting { s.taskState = .deleting }
            try await servers.update(s, in: db)
            if s.taskState == nil || item.error != nil {
                try await service.actions.finish(server: item.id, host: s.host, error: item.error, in: db)
            }
            return s
        }
    }

    /// A step failed: a build ends in ERROR with its claims and ports released; other tasks end
    /// with the task cleared and the fault recorded.
    private func fail(_ id: String, _ error: any Error) async {
        let message: String
        switch error {
        case is NoValidHost: message = "No valid host was found. There are not enough hosts available."
        case is VirtualInterfaceCreateFailed: message = "Virtual Interface creation failed"
        case let e as APIError: message = e.message
        default: message = String(describing: error)
        }
        service.logger.warning("server task failed", metadata: ["server": "\(id)", "error": "\(message)"])
        guard let server = try? await servers.get(id) else { return }
        if server.vmState == .building {
            try? await service.ports.release(server.portRef, deleting: Set(server.ownedPorts))
            if let host = server.host { try? await hypervisor.destroy(id, host: host) }
        }
        _ = try? await service.db.transaction { db in
            guard var s = try await servers.get(id, in: db) else { return }
            if s.vmState == .building {
                try await placement.release(id, in: db)
                s.host = nil
                s.ownedPorts = []
                s.addresses = []
            }
            if s.taskState != .deleting {
                s.vmState = .error
                s.taskState = nil
            }
            s.fault = Fault(code: 500, message: message, details: nil, created: Date().timeIntervalSince1970)
            try await servers.update(s, in: db)
            try await service.actions.finish(server: id, host: s.host, error: message, in: db)
        }
    }
}
