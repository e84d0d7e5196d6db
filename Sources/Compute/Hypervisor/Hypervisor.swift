import Foundation

/// The driver that runs servers on hosts. `fake` keeps them in memory; `qemu` will run real machines.
/// Every call is idempotent (spawning a server that runs, destroying one that is gone, succeed), so
/// the conductor can repeat any step after a restart.
public protocol Hypervisor: Sendable {
    /// The hosts this driver runs servers on, with what they offer.
    var hosts: [HostResources] { get }
    func spawn(_ instance: InstanceSpec) async throws
    func destroy(_ id: String, host: String) async throws
    func setPower(_ id: String, host: String, _ action: PowerAction) async throws
    /// The power state the host sees, nil when the server is not there.
    func powerState(_ id: String, host: String) async -> PowerState?
    /// The disk's bytes, for a snapshot.
    func snapshot(_ id: String, host: String) async throws -> [UInt8]
    func consoleOutput(_ id: String, host: String) async throws -> String
    func diagnostics(_ id: String, host: String) async throws -> [String: String]
    func plug(_ id: String, host: String, port: InstancePort) async throws
    func unplug(_ id: String, host: String, portID: String) async throws
}

/// What one host offers the scheduler.
public struct HostResources: Sendable, Equatable {
    public var name: String
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    public var cpuAllocationRatio: Double
    public var ramAllocationRatio: Double
    public var diskAllocationRatio: Double
    public var hypervisorType: String
    public var cpuArchitecture: String
}

/// Everything a driver needs to start a server.
public struct InstanceSpec: Sendable, Equatable {
    public var id: String
    public var name: String
    public var host: String
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    public var imageID: String
    public var ports: [InstancePort]
    public var userData: String?
    public var keyData: String?
    public var powerOn: Bool
}

public struct InstancePort: Sendable, Equatable {
    public var id: String
    public var mac: String
    public var mtu: Int
}

public enum PowerAction: String, Sendable {
    case start, stop, softReboot, hardReboot, pause, unpause, suspend, resume, rescue, unrescue
}
