import DriverKit
import Foundation
import Logging
import MartletCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs each server as a `qemu-system-*` process of this host, without libvirt: disks are qcow2
/// overlays on a cached image, the machine is driven through its QMP socket, and everything the
/// host knows of a server is in its folder, so servers outlive Martlet and a restart finds them.
public final class QemuHypervisor: Hypervisor {
    public let hosts: [HostResources]
    let settings: QemuSettings
    /// `kvm` or `tcg`, probed at start.
    public let accelerator: String
    let cache: ImageCache
    let socketsFolder: String
    let logger: Logger
    private let locks = Mutex<[String: AsyncLock]>([:])

    public static func start(_ settings: QemuSettings, images: any ImageSource,
                             logger: Logger = Logger(label: "martlet.qemu")) async throws -> QemuHypervisor {
        let binary = try HostCommand.resolve(settings.binary)
        _ = try HostCommand.resolve("qemu-img")
        try FileManager.default.createDirectory(atPath: settings.instancesFolder, withIntermediateDirectories: true)
        let accelerator = await Accelerator.choose(settings.accelerator, binary: binary, scratch: settings.root, logger: logger)
        var resolved = settings
        resolved.binary = binary
        let hypervisor = QemuHypervisor(resolved, accelerator: accelerator, images: images, logger: logger)
        await hypervisor.finishInterruptedSnapshots()
        return hypervisor
    }

    init(_ settings: QemuSettings, accelerator: String, images: any ImageSource, logger: Logger) {
        self.settings = settings
        self.accelerator = accelerator
        self.logger = logger
        cache = ImageCache(folder: settings.imagesFolder, source: images, logger: logger)
        socketsFolder = settings.socketsFolder
        try? FileManager.default.createDirectory(atPath: settings.instancesFolder, withIntermediateDirectories: true)
        hosts = [HostResources(name: settings.hostName, vcpus: ProcessInfo.processInfo.activeProcessorCount,
                               memoryMB: Int(ProcessInfo.processInfo.physicalMemory >> 20), diskGB: Self.diskGB(of: settings.root),
                               cpuAllocationRatio: settings.cpuAllocationRatio, ramAllocationRatio: settings.ramAllocationRatio,
                               diskAllocationRatio: settings.diskAllocationRatio, hypervisorType: "QEMU")]
    }

    static func diskGB(of path: String) -> Int {
        let size = (try? FileManager.default.attributesOfFileSystem(forPath: path)[.systemSize] as? NSNumber)?.int64Value ?? 0
        return Int(size >> 30)
    }

    // MARK: Spawn and destroy

    public func spawn(_ instance: InstanceSpec) async throws {
        try checkHost(instance.host)
        let folder = folder(instance.id)
        try await locked(instance.id) {
            if folder.exists {
                try await reshape(folder, to: instance)
                if instance.powerOn, folder.runningPID == nil, !folder.suspended { try await launch(folder, try folder.load()) }
                return
            }
            try await withReverter(logger: logger) { undo in
                try folder.create()
                undo.onFailure("server folder") { try folder.remove() }
                try await makeDisks(instance, in: folder)
                if wantsConfigDrive(instance) { try await ConfigDrive.write(instance.instanceFiles, to: folder.configDrive) }
                try await folder.save(instance)
                undo.onFailure("taps") { for port in instance.ports { try await NetworkInterface.deleteTap(named: port.deviceName) } }
                if instance.powerOn { try await launch(folder, instance) }
            }
            await evictUnusedImages()
        }
    }

    private func makeDisks(_ instance: InstanceSpec, in folder: InstanceFolder) async throws {
        if instance.rootVolume != nil {
            // Booting from a volume: no root disk of the host's.
            try await makeLocalDisks(instance, in: folder)
            return
        }
        let base = try await cache.base(for: instance.image)
        let imageSize = base.virtualSize
        if instance.diskGB > 0 {
            let flavorBytes = Int64(instance.diskGB) << 30
            if imageSize > flavorBytes || instance.image.minDisk > instance.diskGB {
                throw DriverError.invalidInput("Flavor's disk is too small for requested image. Flavor disk is \(flavorBytes) bytes, "
                    + "image is \(max(imageSize, Int64(instance.image.minDisk) << 30)) bytes.")
            }
        }
        try await DiskImage.overlay(folder.disk, on: base.path, sizeGB: instance.diskGB)
        try await makeLocalDisks(instance, in: folder)
    }

    private func makeLocalDisks(_ instance: InstanceSpec, in folder: InstanceFolder) async throws {
        if instance.ephemeralGB > 0 { try await DiskImage.blank(folder.ephemeral, megabytes: instance.ephemeralGB * 1024) }
        if instance.swapMB > 0 { try await DiskImage.blank(folder.swap, megabytes: instance.swapMB) }
    }

    /// A server spawned again with another flavor (a resize, or its revert, on this host): it stops,
    /// its root disk grows (a disk never shrinks), and it runs on with the new vCPUs and memory.
    private func reshape(_ folder: InstanceFolder, to instance: InstanceSpec) async throws {
        let saved = try folder.load()
        guard (saved.vcpus, saved.memoryMB, saved.diskGB) != (instance.vcpus, instance.memoryMB, instance.diskGB) else { return }
        try await shutDown(folder)
        if saved.rootVolume == nil { try await DiskImage.grow(folder.disk, toGB: instance.diskGB) }
        var reshaped = saved
        (reshaped.vcpus, reshaped.memoryMB, reshaped.diskGB) = (instance.vcpus, instance.memoryMB, instance.diskGB)
        try await folder.save(reshaped)
    }

    private func wantsConfigDrive(_ instance: InstanceSpec) -> Bool {
        !instance.instanceFiles.isEmpty
            && (instance.configDrive || settings.forceConfigDrive || instance.image.properties["img_config_drive"] == "mandatory")
    }

    public func destroy(_ id: String, host: String) async throws {
        try checkHost(host)
        let folder = folder(id)
        try await locked(id) {
            guard FileManager.default.fileExists(atPath: folder.path) else { return }
            try await kill(folder)
            if let instance = try? folder.load() {
                for port in instance.ports { try await NetworkInterface.deleteTap(named: port.deviceName) }
            }
            try folder.remove()
        }
        _ = locks.withLock { $0.removeValue(forKey: id) }
    }

    // MARK: Power

    public func setPower(_ id: String, host: String, _ action: PowerAction) async throws {
        try checkHost(host)
        let folder = try existing(id)
        try await locked(id) {
            let instance = try folder.load()
            switch action {
            case .start:
                if folder.suspended { try await resume(folder, instance) }
                else if folder.runningPID == nil { try await launch(folder, instance) }
                else if try await status(folder) != .running { try await qmp(folder, "cont") }
            case .stop:
                try await shutDown(folder)
            case .softReboot:
                try await shutDown(folder)
                try await launch(folder, instance)
            case .hardReboot:
                try await kill(folder)
                try? FileManager.default.removeItem(atPath: folder.suspendedState)
                try await launch(folder, instance)
            case .pause:
                try await requireRunning(folder, for: "pause")
                try await qmp(folder, "stop")
            case .unpause:
                try await requireRunning(folder, for: "unpause")
                try await qmp(folder, "cont")
            case .suspend:
                try await requireRunning(folder, for: "suspend")
                try await suspend(folder)
            case .resume:
                if folder.suspended { try await resume(folder, instance) }
                else if folder.runningPID == nil { try await launch(folder, instance) }
            case .rescue:
                try await kill(folder)
                try await DiskImage.overlay(folder.rescueDisk, on: try await cache.base(for: instance.image).path, sizeGB: 0)
                try await launch(folder, instance)
            case .unrescue:
                try await kill(folder)
                try? FileManager.default.removeItem(atPath: folder.rescueDisk)
                try await launch(folder, instance)
            }
        }
    }

    public func powerState(_ id: String, host: String) async -> PowerState? {
        let folder = folder(id)
        guard host == settings.hostName, folder.exists else { return nil }
        // qemu removes its pid file when it ends cleanly (a guest's power-off, a quit); one left behind means it died.
        if folder.runningPID == nil {
            if folder.suspended { return .suspended }
            return FileManager.default.fileExists(atPath: folder.pidFile) ? .crashed : .shutdown
        }
        return (try? await status(folder)) ?? .running
    }

    /// Starts the server's qemu; it daemonizes once the machine is set up, so a bad machine type or
    /// a missing disk fails here with qemu's own message.
    private func launch(_ folder: InstanceFolder, _ instance: InstanceSpec, resumeFrom: String? = nil) async throws {
        try? FileManager.default.removeItem(atPath: folder.pidFile)
        // The sockets' folder is gone after the host reboots.
        try folder.create()
        for port in instance.ports { try await NetworkInterface.createTap(port) }
        let command = MachineCommand(binary: settings.binary, accelerator: accelerator, folder: folder, spec: instance,
                                     rescue: folder.rescued, resumeFrom: resumeFrom,
                                     configDrive: FileManager.default.fileExists(atPath: folder.configDrive))
        try await HostCommand.run(try command.arguments()) { .failed("qemu could not start the server: \($0)") }
    }

    /// The ACPI power button, then a hard stop if the guest is still up after the grace period.
    private func shutDown(_ folder: InstanceFolder) async throws {
        guard folder.runningPID != nil else { return }
        if try await status(folder) == .running {
            try? await qmp(folder, "system_powerdown")
            if await exited(folder, within: settings.shutdownTimeout) { return }
            logger.warning("guest ignored the power button; stopping it", metadata: ["server": "\(folder.path)"])
        }
        try await kill(folder)
    }

    /// Ends the qemu process at once (`quit`, then SIGKILL if it lingers).
    private func kill(_ folder: InstanceFolder) async throws {
        guard let pid = folder.runningPID else { return }
        try? await qmp(folder, "quit")
        if await exited(folder, within: .seconds(5)) { return }
        _ = Glibc.kill(pid, SIGKILL)
        guard await exited(folder, within: .seconds(5)) else { throw DriverError.transient("qemu \(pid) did not exit") }
        try? FileManager.default.removeItem(atPath: folder.pidFile)
    }

    private func exited(_ folder: InstanceFolder, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while folder.runningPID != nil {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return true
    }

    /// Saves the guest's memory to the folder and ends the process; `resume` loads it back.
    private func suspend(_ folder: InstanceFolder) async throws {
        let state = folder.suspendedState, partial = folder.suspendedState + ".part"
        try await qmp(folder, "stop")
        try await QMP.session(folder.qmpSocket, timeout: 300) { qmp in
            try qmp.execute("migrate", ["uri": "exec:cat > \(partial)"])
            while true {
                let info = try qmp.execute("query-migrate") as? [String: Any]
                switch info?["status"] as? String {
                case "completed": return
                case "failed", "cancelled": throw DriverError.failed("saving the guest's memory failed: \(info?["error-desc"] ?? "")")
                default: usleep(50_000)
                }
            }
        }
        try await DurableFile.rename(partial, to: state)
        try await kill(folder)
    }

    private func resume(_ folder: InstanceFolder, _ instance: InstanceSpec) async throws {
        try await launch(folder, instance, resumeFrom: folder.suspendedState)
        let deadline = ContinuousClock.now + .seconds(300)
        while try await rawStatus(folder) == "inmigrate" {
            guard ContinuousClock.now < deadline else { throw DriverError.failed("loading the guest's memory took too long") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await qmp(folder, "cont")
        try? FileManager.default.removeItem(atPath: folder.suspendedState)
    }

    private func requireRunning(_ folder: InstanceFolder, for action: String) async throws {
        guard folder.runningPID != nil else { throw DriverError.invalidState("Cannot \(action) a server that is not running.") }
    }

    private func status(_ folder: InstanceFolder) async throws -> PowerState {
        switch try await rawStatus(folder) {
        case "running": return .running
        case "shutdown": return .shutdown
        case "internal-error", "io-error", "guest-panicked": return .crashed
        default: return .paused
        }
    }

    private func rawStatus(_ folder: InstanceFolder) async throws -> String {
        let result = try await qmp(folder, "query-status").value as? [String: Any]
        return result?["status"] as? String ?? "unknown"
    }

    @discardableResult
    private func qmp(_ folder: InstanceFolder, _ command: String, _ arguments: [String: any Sendable]? = nil) async throws -> UncheckedBox<Any> {
        let box = UncheckedBox<[String: Any]?>(arguments)
        return try await QMP.session(folder.qmpSocket) { qmp in UncheckedBox<Any>(try qmp.execute(command, box.value)) }
    }

    // MARK: Disks, console, diagnostics

    public func snapshot(_ id: String, host: String) async throws -> DiskSnapshot {
        try checkHost(host)
        let folder = try existing(id)
        let copy = folder.snapshotCopy()
        try await locked(id) {
            // Paused, qemu has flushed the disk, so the copy is whole; the pause lasts as long as the copy.
            var running = false
            if folder.runningPID != nil { running = try await status(folder) == .running }
            do {
                if running {
                    try Data().write(to: URL(fileURLWithPath: folder.snapshotPause))
                    try await qmp(folder, "stop")
                }
                try await DiskImage.flatten(folder.disk, into: copy, shared: folder.runningPID != nil)
                if running { try await resumeAfterSnapshot(folder) }
            } catch {
                try? FileManager.default.removeItem(atPath: copy)
                if running { try? await resumeAfterSnapshot(folder) }
                try? FileManager.default.removeItem(atPath: folder.snapshotPause)
                throw error
            }
        }
        return DiskSnapshot(diskFormat: "qcow2", chunks: FileChunks(path: copy, removesFile: true))
    }

    private func resumeAfterSnapshot(_ folder: InstanceFolder) async throws {
        try await qmp(folder, "cont")
        try FileManager.default.removeItem(atPath: folder.snapshotPause)
    }

    /// A snapshot cut off by a crash of Martlet leaves its copy behind and, when the crash came
    /// while the guest was paused for it, a paused guest: both are put right at start.
    func finishInterruptedSnapshots() async {
        for id in instanceIDs() {
            let folder = folder(id)
            for copy in folder.snapshotCopies { try? FileManager.default.removeItem(atPath: copy) }
            guard FileManager.default.fileExists(atPath: folder.snapshotPause) else { continue }
            do {
                if folder.runningPID != nil { try await qmp(folder, "cont") }
                try FileManager.default.removeItem(atPath: folder.snapshotPause)
                logger.notice("guest paused by an interrupted snapshot runs again", metadata: ["server_id": "\(id)"])
            } catch {
                logger.error("could not let a guest paused by an interrupted snapshot run", metadata: ["server_id": "\(id)", "error": "\(error)"])
            }
        }
    }

    public func consoleOutput(_ id: String, host: String, lines: Int?) async throws -> String {
        try checkHost(host)
        let folder = try existing(id)
        guard let data = FileManager.default.contents(atPath: folder.consoleLog) else { return "" }
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        guard let lines else { return text }
        var all = text.split(separator: "\n", omittingEmptySubsequences: false)
        if all.last == "" { all.removeLast() }
        return all.suffix(max(lines, 0)).joined(separator: "\n")
    }

    /// qemu's VNC server and serial port, each on a socket of the server's own.
    public func console(_ id: String, host: String, type: String) async throws -> ConsoleEndpoint? {
        try checkHost(host)
        let folder = try existing(id)
        let socket: String
        switch type {
        case "novnc": socket = folder.vncSocket
        case "serial": socket = folder.serialSocket
        default: throw DriverError.unsupported("Unavailable console type \(type).")
        }
        try await requireRunning(folder, for: "open the console of")
        return ConsoleEndpoint(unixSocket: socket)
    }

    public func diagnostics(_ id: String, host: String) async throws -> [String: String] {
        try checkHost(host)
        let folder = try existing(id)
        let instance = try folder.load()
        var result = ["state": "\(await powerState(id, host: host) ?? .noState)", "memory": "\(instance.memoryMB * 1024)",
                      "driver": "qemu", "hypervisor": accelerator]
        if folder.runningPID != nil {
            if let cpus = try? await qmp(folder, "query-cpus-fast").value as? [Any] { result["num_cpus"] = "\(cpus.count)" }
            if let disks = try? await qmp(folder, "query-blockstats").value as? [[String: Any]] {
                for (index, disk) in disks.enumerated() {
                    guard let stats = disk["stats"] as? [String: Any] else { continue }
                    let name = "vd" + String(UnicodeScalar(UInt8(97 + index % 26)))
                    result["\(name)_read"] = "\(stats["rd_bytes"] ?? 0)"
                    result["\(name)_write"] = "\(stats["wr_bytes"] ?? 0)"
                    result["\(name)_read_req"] = "\(stats["rd_operations"] ?? 0)"
                    result["\(name)_write_req"] = "\(stats["wr_operations"] ?? 0)"
                }
            }
        }
        for port in instance.ports {
            let statistics = "/sys/class/net/\(port.deviceName)/statistics"
            for (key, file) in [("rx", "rx_bytes"), ("tx", "tx_bytes"), ("rx_packets", "rx_packets"), ("tx_packets", "tx_packets")] {
                if let value = try? String(contentsOfFile: "\(statistics)/\(file)", encoding: .utf8) {
                    result["\(port.deviceName)_\(key)"] = value.trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
        }
        return result
    }

    // MARK: Ports and volumes

    public func plug(_ id: String, host: String, port: InstancePort) async throws {
        try await edit(id, host: host) { instance, folder in
            guard !instance.ports.contains(where: { $0.id == port.id }) else { return false }
            try await NetworkInterface.createTap(port)
            if folder.runningPID != nil {
                try await qmp(folder, "netdev_add", ["type": "tap", "id": NetworkInterface.netdevID(port), "ifname": port.deviceName,
                                                     "script": "no", "downscript": "no"])
                try await qmp(folder, "device_add", ["driver": "virtio-net-pci", "netdev": NetworkInterface.netdevID(port),
                                                     "id": NetworkInterface.deviceID(port), "mac": port.mac])
            }
            instance.ports.append(port)
            return true
        }
    }

    public func unplug(_ id: String, host: String, portID: String) async throws {
        try await edit(id, host: host) { instance, folder in
            guard let port = instance.ports.first(where: { $0.id == portID }) else { return false }
            if folder.runningPID != nil {
                try? await qmp(folder, "device_del", ["id": NetworkInterface.deviceID(port)])
                try? await qmp(folder, "netdev_del", ["id": NetworkInterface.netdevID(port)])
            }
            try await NetworkInterface.deleteTap(named: port.deviceName)
            instance.ports.removeAll { $0.id == portID }
            return true
        }
    }

    /// Volumes whose connection names a path on this host become virtio disks (hot-added when the
    /// server runs); others are recorded for the volume driver that will provide them.
    public func attachVolume(_ id: String, host: String, volume: InstanceVolume) async throws {
        try await edit(id, host: host) { instance, folder in
            guard !instance.volumes.contains(where: { $0.volumeID == volume.volumeID }) else { return false }
            if folder.runningPID != nil, let path = VolumeDisk.path(volume) {
                let device = try VolumeDisk.device(volume)
                try await qmp(folder, "blockdev-add", VolumeDisk.blockdev(volume, path: path))
                do {
                    try await qmp(folder, "device_add", device)
                } catch {
                    // A disk qemu could not plug (another process holds its lock) leaves no node behind.
                    try? await qmp(folder, "blockdev-del", ["node-name": VolumeDisk.nodeName(volume)])
                    throw error
                }
            }
            instance.volumes.append(volume)
            return true
        }
    }

    public func detachVolume(_ id: String, host: String, volumeID: String) async throws {
        try await edit(id, host: host) { instance, folder in
            guard let volume = instance.volumes.first(where: { $0.volumeID == volumeID }) else { return false }
            if folder.runningPID != nil, VolumeDisk.path(volume) != nil {
                try? await qmp(folder, "device_del", ["id": VolumeDisk.deviceID(volume)])
                // The guest lets the disk go when it answers the unplug (ACPI); until then qemu keeps
                // the node in use. A guest that never answers keeps its volume: the detach fails.
                // A guest that answers takes tens of milliseconds: look again soon, then less often.
                let deadline = ContinuousClock.now + .seconds(60)
                var pause = Duration.milliseconds(10)
                while true {
                    do {
                        try await qmp(folder, "blockdev-del", ["node-name": VolumeDisk.nodeName(volume)])
                        break
                    } catch DriverError.failed(let why) where why.contains("Failed to find node") {
                        break  // gone already (a repeated detach)
                    } catch {
                        guard ContinuousClock.now < deadline else {
                            throw DriverError.failed("server \(id) did not release volume \(volumeID) within 60 s")
                        }
                        try await Task.sleep(for: pause)
                        pause = min(pause * 2, .milliseconds(50))
                    }
                }
            }
            instance.volumes.removeAll { $0.volumeID == volumeID }
            return true
        }
    }

    /// QMP `block_resize` grows the volume's image through qemu's own hold on the file. A disk
    /// added at boot is a `-drive` (its name is the block device's); one hot-added is a node.
    public func extendVolume(_ id: String, host: String, volumeID: String, bytes: Int64) async throws {
        try await edit(id, host: host) { instance, folder in
            guard let volume = instance.volumes.first(where: { $0.volumeID == volumeID }) else {
                throw DriverError.notFound("volume \(volumeID) on server \(id)")
            }
            guard folder.runningPID != nil, VolumeDisk.path(volume) != nil else { return false }
            let name = VolumeDisk.nodeName(volume)
            do {
                _ = try await qmp(folder, "block_resize", ["node-name": name, "size": bytes])
            } catch DriverError.failed(let why) where why.contains("find") || why.contains("not found") {
                _ = try await qmp(folder, "block_resize", ["device": name, "size": bytes])
            }
            return false
        }
    }

    /// Changes a server's saved description under its lock: `change` edits it (and the running
    /// machine) and says whether anything changed, so a repeated call saves nothing.
    private func edit(_ id: String, host: String,
                      _ change: (inout InstanceSpec, InstanceFolder) async throws -> Bool) async throws {
        try checkHost(host)
        let folder = try existing(id)
        try await locked(id) {
            var instance = try folder.load()
            if try await change(&instance, folder) { try await folder.save(instance) }
        }
    }

    // MARK: Housekeeping

    public func instances(host: String) async throws -> [String] {
        try checkHost(host)
        return instanceIDs()
    }

    /// The servers this host has folders for.
    func instanceIDs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: settings.instancesFolder)) ?? []).sorted()
    }

    private func evictUnusedImages() async {
        guard await cache.evictionDue(maxAge: settings.imageCacheMaxAge) else { return }
        let inUse = Set(instanceIDs().compactMap { try? folder($0).load().image.id })
        await cache.evict(olderThan: settings.imageCacheMaxAge, keeping: inUse)
    }

    func folder(_ id: String) -> InstanceFolder {
        InstanceFolder(root: settings.instancesFolder, id: id, sockets: socketsFolder)
    }

    private func existing(_ id: String) throws -> InstanceFolder {
        let folder = folder(id)
        guard folder.exists else { throw DriverError.notFound("server \(id) is not on host \(settings.hostName)") }
        return folder
    }

    private func checkHost(_ host: String) throws {
        guard host == settings.hostName else { throw DriverError.unknownHost(host) }
    }

    /// Runs `body` with the server's lock: one step at a time on a server's process and files.
    private func locked<T>(_ id: String, _ body: () async throws -> T) async throws -> T {
        let lock = locks.withLock { all in
            if let lock = all[id] { return lock }
            let lock = AsyncLock()
            all[id] = lock
            return lock
        }
        return try await lock.withLock(body)
    }
}

/// Carries QMP's untyped JSON values across the thread hop; they are plain data, never shared mutably.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
