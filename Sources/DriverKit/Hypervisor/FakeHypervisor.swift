import MartletCore
import Synchronization

/// Servers kept in memory on simulated hosts: instant and deterministic, with an optional delay
/// so the BUILD state can be seen. Its memory dies with the process; the conductor re-spawns
/// what the database says should run.
public final class FakeHypervisor: Hypervisor {
    public let hosts: [HostResources]
    let spawnDelay: Duration
    private let machines = Mutex<[String: Machine]>([:])

    struct Machine {
        var host: String
        var power: PowerState
        var spec: InstanceSpec
        var bootCount: Int
        var ports: [String]
        var volumes: [String: InstanceVolume]
        var volumeSizes: [String: Int64] = [:]
    }

    public init(hostCount: Int, vcpus: Int, memoryMB: Int, diskGB: Int, spawnDelay: Duration = .zero) {
        hosts = Self.hostNames(count: hostCount).map {
            HostResources(name: $0, vcpus: vcpus, memoryMB: memoryMB, diskGB: diskGB, hypervisorType: "fake")
        }
        self.spawnDelay = spawnDelay
    }

    /// The names of the `count` hosts it simulates, which the fake network backend wires too.
    public static func hostNames(count: Int) -> [String] { (1...max(count, 1)).map { "fake-\($0)" } }

    public func spawn(_ instance: InstanceSpec) async throws {
        try checkHost(instance.host)
        if spawnDelay > .zero { try await Task.sleep(for: spawnDelay) }
        machines.withLock { all in
            let boots = (all[instance.id]?.bootCount ?? 0) + 1
            all[instance.id] = Machine(host: instance.host, power: instance.powerOn ? .running : .shutdown, spec: instance,
                                       bootCount: boots, ports: instance.ports.map(\.id),
                                       volumes: Dictionary(instance.volumes.map { ($0.volumeID, $0) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    public func destroy(_ id: String, host: String) async throws {
        machines.withLock { all in
            if all[id]?.host == host { all.removeValue(forKey: id) }
        }
    }

    /// The server's process dies (a test's way to pull the plug).
    public func crash(_ id: String) {
        machines.withLock { all in all[id]?.power = .crashed }
    }

    public func instances(host: String) async throws -> [String] {
        try checkHost(host)
        return machines.withLock { all in all.filter { $0.value.host == host }.map(\.key) }
    }

    public func setPower(_ id: String, host: String, _ action: PowerAction) async throws {
        try edit(id, host) { machine in
            machine.power = action.result
            if [.softReboot, .hardReboot, .rescue].contains(action) { machine.bootCount += 1 }
        }
    }

    public func powerState(_ id: String, host: String) async -> PowerState? {
        machines.withLock { all in all[id].flatMap { $0.host == host ? $0.power : nil } }
    }

    public func snapshot(_ id: String, host: String) async throws -> DiskSnapshot {
        let spec = try machine(id, host).spec
        return DiskSnapshot(diskFormat: "raw", chunks: BufferChunks(bytes: Array("fake disk of \(spec.id) from image \(spec.image.id)\n".utf8)))
    }

    public func consoleOutput(_ id: String, host: String, lines count: Int?) async throws -> String {
        let machine = try machine(id, host)
        var lines: [String] = []
        for boot in 1...max(1, machine.bootCount) {
            lines += ["[    0.000000] Linux version 6.1.0 (fake) boot \(boot)", "[    0.100000] Booting \(machine.spec.name)",
                      "cloud-init: \(machine.spec.name) up"]
        }
        if let count { lines = Array(lines.suffix(max(count, 0))) }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// Every type is offered, as Nova's fake driver does; nothing is behind it.
    public func console(_ id: String, host: String, type: String) async throws -> ConsoleEndpoint? {
        _ = try machine(id, host)
        return nil
    }

    public func diagnostics(_ id: String, host: String) async throws -> [String: String] {
        let machine = try machine(id, host)
        return ["cpu0_time": "17300000000", "memory": String(machine.spec.memoryMB * 1024), "vda_read": "262144",
                "vda_write": "5778432"]
    }

    public func plug(_ id: String, host: String, port: InstancePort) async throws {
        try edit(id, host) { machine in
            if !machine.ports.contains(port.id) { machine.ports.append(port.id) }
        }
    }

    public func unplug(_ id: String, host: String, portID: String) async throws {
        machines.withLock { all in all[id]?.ports.removeAll { $0 == portID } }
    }

    public func attachVolume(_ id: String, host: String, volume: InstanceVolume) async throws {
        try edit(id, host) { machine in
            if let other = machine.volumes.values.first(where: { $0.device == volume.device && $0.volumeID != volume.volumeID }) {
                throw DriverError.invalidState("device \(volume.device) already holds volume \(other.volumeID)")
            }
            machine.volumes[volume.volumeID] = volume
        }
    }

    public func detachVolume(_ id: String, host: String, volumeID: String) async throws {
        machines.withLock { all in _ = all[id]?.volumes.removeValue(forKey: volumeID) }
    }

    public func extendVolume(_ id: String, host: String, volumeID: String, bytes: Int64) async throws {
        try edit(id, host) { machine in
            guard machine.volumes[volumeID] != nil else { throw DriverError.notFound("volume \(volumeID) on server \(id)") }
            machine.volumeSizes[volumeID] = bytes
        }
    }

    /// The size a server was last told its volume has (tests check the extend reached it).
    public func volumeSize(_ id: String, volumeID: String) -> Int64? {
        machines.withLock { $0[id]?.volumeSizes[volumeID] }
    }

    /// The ports and volumes a server has now (tests check what the conductor asked for).
    public func devices(_ id: String) -> (ports: [String], volumes: [String])? {
        machines.withLock { all in all[id].map { ($0.ports, $0.volumes.keys.sorted()) } }
    }

    /// How a server was told to open its volume (tests check what Block Storage handed over).
    public func volumeConnection(_ id: String, volumeID: String) -> VolumeConnection? {
        machines.withLock { $0[id]?.volumes[volumeID]?.connection }
    }

    private func edit(_ id: String, _ host: String, _ change: (inout Machine) throws -> Void) throws {
        try checkHost(host)
        try machines.withLock { all in
            guard var machine = all[id], machine.host == host else { throw DriverError.notFound("server \(id) on \(host)") }
            try change(&machine)
            all[id] = machine
        }
    }

    private func machine(_ id: String, _ host: String) throws -> Machine {
        try checkHost(host)
        guard let machine = machines.withLock({ $0[id] }), machine.host == host else { throw DriverError.notFound("server \(id) on \(host)") }
        return machine
    }

    private func checkHost(_ host: String) throws {
        guard hosts.contains(where: { $0.name == host }) else { throw DriverError.unknownHost(host) }
    }
}
