import DriverKit
import Foundation
import MartletCore
import ServiceContracts

/// Volumes onto and off servers: Block Storage reserves and connects the volume, the hypervisor
/// adds the disk, the server records it; a step that fails undoes the ones before it, so a failed
/// attach leaves no reservation and no half-recorded disk.
struct VolumeAttacher {
    let service: ComputeService

    private var catalog: any VolumeCatalog {
        get throws {
            guard let volumes = service.volumes else { throw APIError.badRequest("This cloud serves no Block Storage: there are no volumes to attach.") }
            return volumes
        }
    }

    static let pending = VolumeConnection(driverVolumeType: "pending", data: [:])

    func volumeExists(_ id: String, projectID: String) async throws -> Bool {
        try await catalog.volume(id: id, projectID: projectID) != nil
    }

    func attach(_ server: Server, volumeID: String, device requested: String?, tag: String?, deleteOnTermination: Bool) async throws -> AttachedVolume {
        let catalog = try catalog
        guard try await volumeExists(volumeID, projectID: server.projectID) else {
            throw APIError.notFound("Volume \(volumeID) could not be found.")
        }
        guard !(server.volumes ?? []).contains(where: { $0.volumeID == volumeID }) else {
            throw APIError.badRequest("Invalid volume: volume \(volumeID) is already attached to instance \(server.id).")
        }
        guard let host = server.host else { throw ComputeFault.invalidState(server, action: ServerAction.attachVolume.name) }
        // The disk is recorded first, so two attaches at once take two devices.
        let recorded = try await Workflows(service: service).settle(server.id) { s in
            let device = Self.freeDevice(s, requested: requested)
            s.volumes = (s.volumes ?? []) + [AttachedVolume(volumeID: volumeID, device: device, tag: tag,
                                                            deleteOnTermination: deleteOnTermination, connection: Self.pending)]
        }
        guard var disk = recorded.volumes?.first(where: { $0.volumeID == volumeID }) else { throw APIError.internalError() }
        do {
            try await catalog.reserve(volumeID: volumeID, for: server.portRef)
            do {
                disk.connection = try await catalog.attach(volumeID: volumeID, to: server.portRef, host: host, device: disk.device)
                try await service.hypervisor.attachVolume(server.id, host: host,
                                                          volume: InstanceVolume(volumeID: volumeID, device: disk.device, connection: disk.connection))
            } catch {
                try? await catalog.detach(volumeID: volumeID, from: server.portRef)
                throw error
            }
        } catch {
            _ = try? await Workflows(service: service).settle(server.id) { s in s.volumes?.removeAll { $0.volumeID == volumeID } }
            throw error
        }
        let connection = disk.connection
        _ = try await Workflows(service: service).settle(server.id) { s in
            if let index = s.volumes?.firstIndex(where: { $0.volumeID == volumeID }) { s.volumes?[index].connection = connection }
        }
        return disk
    }

    func detach(_ server: Server, volumeID: String) async throws {
        guard let disk = (server.volumes ?? []).first(where: { $0.volumeID == volumeID }) else {
            throw APIError.notFound("Volume \(volumeID) is not attached to instance \(server.id).")
        }
        // The server boots from it: without it, it could not start again.
        guard disk.device != "/dev/vda" else { throw APIError.badRequest("Cannot detach a root device volume") }
        if let host = server.host { try await service.hypervisor.detachVolume(server.id, host: host, volumeID: volumeID) }
        try await catalog.detach(volumeID: volumeID, from: server.portRef)
        _ = try await Workflows(service: service).settle(server.id) { s in s.volumes?.removeAll { $0.volumeID == volumeID } }
    }

    /// A deleted server's volumes go back to `available` (its host's disks are gone with it), and
    /// those asked to go with it (`delete_on_termination`) are deleted.
    func releaseAll(of server: Server) async throws {
        guard let volumes = service.volumes else { return }
        for disk in server.volumes ?? [] {
            try await volumes.detach(volumeID: disk.volumeID, from: server.portRef)
            // A volume Block Storage keeps (it has snapshots, say) stays, as Nova leaves it: the server goes anyway.
            if disk.deleteOnTermination {
                do { try await volumes.deleteVolume(id: disk.volumeID) } catch {
                    service.logger.warning("volume kept", metadata: ["volume": "\(disk.volumeID)", "server": "\(server.id)", "reason": "\(error)"])
                }
            }
        }
    }

    /// The create's volumes, before the first spawn: made (from an image, a snapshot or nothing) and
    /// waited for, then reserved and connected to the host; the boot volume is `/dev/vda`. Each step
    /// is recorded as it ends, so a build run again after a restart makes nothing twice.
    func attachRequested(_ devices: [BlockDeviceRequest], to server: Server, host: String) async throws -> Server {
        let catalog = try catalog
        var server = server
        for index in devices.indices.sorted(by: { (devices[$0].bootIndex ?? Int.max) < (devices[$1].bootIndex ?? Int.max) }) {
            var device = server.blockDevices?[index] ?? devices[index]
            if device.sourceType != "volume" {
                let source: VolumeSpec.Source = switch device.sourceType {
                case "image": .image(device.uuid ?? "")
                case "snapshot": .snapshot(device.uuid ?? "")
                default: .blank
                }
                let made = try await catalog.createVolume(projectID: server.projectID, userID: server.userID, sizeGB: device.volumeSize,
                                                          source: source, name: "\(server.name)-\(device.isRoot ? "boot" : "volume-\(index)")",
                                                          description: nil, metadata: [:])
                device.sourceType = "volume"
                device.uuid = made
                let recorded = device
                server = try await Workflows(service: service).settle(server.id) { s in
                    s.blockDevices?[index] = recorded
                    Self.record(recorded, in: &s)
                }
                try await waitAvailable(made, projectID: server.projectID)
            }
            let volumeID = device.uuid ?? ""
            if let disk = server.volumes?.first(where: { $0.volumeID == volumeID }), disk.connection != Self.pending { continue }
            if server.volumes?.contains(where: { $0.volumeID == volumeID }) != true {
                let recorded = device
                server = try await Workflows(service: service).settle(server.id) { s in Self.record(recorded, in: &s) }
            }
            guard let disk = server.volumes?.first(where: { $0.volumeID == volumeID }) else { throw APIError.internalError() }
            try await catalog.reserve(volumeID: volumeID, for: server.portRef)
            let connection = try await catalog.attach(volumeID: volumeID, to: server.portRef, host: host, device: disk.device)
            server = try await Workflows(service: service).settle(server.id) { s in
                if let at = s.volumes?.firstIndex(where: { $0.volumeID == volumeID }) { s.volumes?[at].connection = connection }
            }
        }
        return try await Workflows(service: service).settle(server.id) { $0.blockDevices = nil }
    }

    /// Records a requested volume as a disk of the server, not yet connected.
    private static func record(_ device: BlockDeviceRequest, in s: inout Server) {
        guard let id = device.uuid else { return }
        let path = device.isRoot ? "/dev/vda" : freeDevice(s, requested: device.deviceName)
        s.volumes = (s.volumes ?? []) + [AttachedVolume(volumeID: id, device: path, tag: device.tag,
                                                        deleteOnTermination: device.deleteOnTermination, connection: pending)]
    }

    /// Waits for a volume made for the server (an image is converted: minutes at most).
    private func waitAvailable(_ id: String, projectID: String) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while true {
            let status = try await catalog.volume(id: id, projectID: projectID)?.status
            if status == "available" { return }
            guard let status, !status.hasPrefix("error"), ContinuousClock.now < deadline else {
                throw APIError.badRequest("Block Device Mapping is Invalid: volume \(id) did not become available (\(status ?? "gone")).")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The requested device when it is free, else the first free `/dev/vdX` after the root disk
    /// and the flavor's ephemeral and swap disks.
    static func freeDevice(_ s: Server, requested: String?) -> String {
        var used: Set<String> = ["/dev/vda"]
        var next = UInt8(ascii: "b")
        for extra in [s.flavor.ephemeral, s.flavor.swap] where extra > 0 {
            used.insert("/dev/vd" + String(UnicodeScalar(next)))
            next += 1
        }
        used.formUnion((s.volumes ?? []).map(\.device))
        if let requested, !used.contains(requested) { return requested }
        for letter in UInt8(ascii: "b")...UInt8(ascii: "z") where !used.contains("/dev/vd" + String(UnicodeScalar(letter))) {
            return "/dev/vd" + String(UnicodeScalar(letter))
        }
        return "/dev/vd" + String(UnicodeScalar(next))
    }
}
