import Foundation
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
    }

    public init(hostCount: Int, vcpus: Int, memoryMB: Int, diskGB: Int, spawnDelay: Duration = .zero) {
        hosts = (1...max(1, hostCount)).map {
            HostResources(name: "fake-\($0)", vcpus: vcpus, memoryMB: memoryMB, diskGB: diskGB, cpuAllocationRatio: 16,
                          ramAllocationRatio: 1.5, diskAllocationRatio: 1, hypervisorType: "fake", cpuArchitecture: "x86_64")
        }
        self.spawnDelay = spawnDelay
    }

    public func spawn(_ instance: InstanceSpec) async throws {
        try checkHost(instance.host)
        if spawnDelay > .zero { try await Task.sleep(for: spawnDelay) }
        machines.withLock { all in
            let boots = (all[instance.id]?.bootCount ?? 0) + 1
            all[instance.id] = Machine(host: instance.host, power: instance.powerOn ? .running : .shutdown, spec: instance,
                                       bootCount: boots, ports: instance.ports.map(\.id))
        }
    }

    public func destroy(_ id: String, host: String) async throws {
        _ = machines.withLock { $0.removeValue(forKey: id) }
    }

    public func setPower(_ id: String, host: String, _ action: PowerAction) async throws {
        try machines.withLock { all in
            guard var machine = all[id], machine.host == host else { throw HypervisorError.notFound(id) }
            switch action {
            case .start, .unpause, .resume, .unrescue: machine.power = .running
            case .softReboot, .hardReboot, .rescue: machine.power = .running; machine.bootCount += 1
            case .stop: machine.power = .shutdown
            case .pause: machine.power = .paused
            case .suspend: machine.power = .suspended
            }
            all[id] = machine
        }
    }

    public func powerState(_ id: String, host: String) async -> PowerState? {
        machines.withLock { all in all[id].flatMap { $0.host == host ? $0.power : nil } }
    }

    public func snapshot(_ id: String, host: String) async throws -> [UInt8] {
        let spec = try machine(id, host).spec
        return Array("fake disk of \(spec.id) from image \(spec.imageID)\n".utf8)
    }

    public func consoleOutput(_ id: String, host: String) async throws -> String {
        let machine = try machine(id, host)
        var lines: [String] = []
        for boot in 1...max(1, machine.bootCount) {
            lines += ["[    0.000000] Linux version 6.1.0 (fake) boot \(boot)", "[    0.100000] Booting \(machine.spec.name)",
                      "cloud-init: \(machine.spec.name) up"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func diagnostics(_ id: String, host: String) async throws -> [String: String] {
        let machine = try machine(id, host)
        return ["cpu0_time": "17300000000", "memory": String(machine.spec.memoryMB * 1024), "vda_read": "262144",
                "vda_write": "5778432"]
    }

    public func plug(_ id: String, host: String, port: InstancePort) async throws {
        try machines.withLock { all in
            guard var machine = all[id], machine.host == host else { throw HypervisorError.notFound(id) }
            if !machine.ports.contains(port.id) { machine.ports.append(port.id) }
            all[id] = machine
        }
    }

    public func unplug(_ id: String, host: String, portID: String) async throws {
        machines.withLock { all in all[id]?.ports.removeAll { $0 == portID } }
    }

    private func machine(_ id: String, _ host: String) throws -> Machine {
        guard let machine = machines.withLock({ $0[id] }), machine.host == host else { throw HypervisorError.notFound(id) }
        return machine
    }

    private func checkHost(_ host: String) throws {
        guard hosts.contains(where: { $0.name == host }) else { throw HypervisorError.unknownHost(host) }
    }
}

public enum HypervisorError: Error, CustomStringConvertible {
    case notFound(String)
    case unknownHost(String)

    public var description: String {
        switch self {
        case .notFound(let id): return "the hypervisor has no server \(id)"
        case .unknownHost(let host): return "the hypervisor has no host \(host)"
        }
    }
}
