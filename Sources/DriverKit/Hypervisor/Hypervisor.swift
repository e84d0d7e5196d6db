import Foundation
import MartletCore

/// The driver that runs servers on hosts. `fake` keeps them in memory; `qemu` runs real machines.
/// Every call is idempotent (spawning a server that runs, destroying one that is gone, unplugging
/// a port that is not plugged, succeed), so the conductor can repeat any step after a restart.
/// Failures are `DriverError`s, which say what the API answers.
public protocol Hypervisor: Sendable {
    /// The hosts this driver runs servers on, with what they offer.
    var hosts: [HostResources] { get }
    func spawn(_ instance: InstanceSpec) async throws
    func destroy(_ id: String, host: String) async throws
    /// The IDs of every server the host has, running or not: what a restart compares with the
    /// database to find leftovers.
    func instances(host: String) async throws -> [String]
    func setPower(_ id: String, host: String, _ action: PowerAction) async throws
    /// The power state the host sees, nil when the server is not there.
    func powerState(_ id: String, host: String) async -> PowerState?
    /// The server's root disk as a snapshot image, streamed: a large disk never sits in memory.
    func snapshot(_ id: String, host: String) async throws -> DiskSnapshot
    /// The console log's last `lines` lines (all when nil).
    func consoleOutput(_ id: String, host: String, lines: Int?) async throws -> String
    func diagnostics(_ id: String, host: String) async throws -> [String: String]
    /// Where a console proxy connects for the server's console of this type (`novnc`, `serial`…);
    /// nil when the driver has no real console behind it. A type the driver lacks is `unsupported`.
    func console(_ id: String, host: String, type: String) async throws -> ConsoleEndpoint?
    func plug(_ id: String, host: String, port: InstancePort) async throws
    func unplug(_ id: String, host: String, portID: String) async throws
    /// Connects a volume the volume driver has connected to this host as a disk of the server.
    func attachVolume(_ id: String, host: String, volume: InstanceVolume) async throws
    func detachVolume(_ id: String, host: String, volumeID: String) async throws
    /// Tells a running server that its volume grew to `bytes` (the volume driver's file may grow
    /// through the server's own hold on it); a server that is not running has nothing to tell.
    func extendVolume(_ id: String, host: String, volumeID: String, bytes: Int64) async throws
}

/// A console a proxy can reach: a stream socket on the host that speaks the console's protocol
/// (RFB for VNC, raw bytes for a serial port).
public struct ConsoleEndpoint: Sendable, Equatable {
    public var unixSocket: String
    public init(unixSocket: String) { self.unixSocket = unixSocket }
}

/// Where a hypervisor fetches the image a server boots from (the Image service in process, or
/// over HTTP from an agent).
public protocol ImageSource: Sendable {
    /// The image's bytes, nil when it has none.
    func imageData(id: String) async throws -> ByteChunks?
    /// The image's bytes as a file of this host when the image store keeps them as one, so a
    /// driver reads them in place instead of copying them first; nil otherwise.
    func imageFile(id: String) async throws -> String?
}

extension ImageSource {
    public func imageFile(id: String) async throws -> String? { nil }
}

/// What one host offers the scheduler.
public struct HostResources: Sendable, Equatable, Codable {
    public var name: String
    public var vcpus: Int
    public var memoryMB: Int
    public var diskGB: Int
    public var cpuAllocationRatio: Double
    public var ramAllocationRatio: Double
    public var diskAllocationRatio: Double
    public var hypervisorType: String
    public var cpuArchitecture: String

    public init(name: String, vcpus: Int, memoryMB: Int, diskGB: Int, cpuAllocationRatio: Double = 16, ramAllocationRatio: Double = 1.5,
                diskAllocationRatio: Double = 1, hypervisorType: String, cpuArchitecture: String = "x86_64") {
        self.name = name
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.diskGB = diskGB
        self.cpuAllocationRatio = cpuAllocationRatio
        self.ramAllocationRatio = ramAllocationRatio
        self.diskAllocationRatio = diskAllocationRatio
        self.hypervisorType = hypervisorType
        self.cpuArchitecture = cpuArchitecture
    }
}

/// Everything a driver needs to start a server.
public struct InstanceSpec: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var host: String
    public var vcpus: Int
    public var memoryMB: Int
    /// Root disk size; 0 means the image's own size.
    public var diskGB: Int
    public var ephemeralGB: Int
    public var swapMB: Int
    public var image: InstanceImage
    public var ports: [InstancePort]
    public var volumes: [InstanceVolume]
    public var userData: String?
    public var keyData: String?
    public var configDrive: Bool
    /// What the config drive's `meta_data.json` carries besides keys and user data.
    public var metadata: [String: String]
    /// The instance data a config drive carries, by path (`openstack/latest/meta_data.json`, `ec2/latest/user-data`…):
    /// what the metadata service answers for this server.
    public var instanceFiles: [String: Data]
    public var powerOn: Bool

    public init(id: String, name: String, host: String, vcpus: Int, memoryMB: Int, diskGB: Int, ephemeralGB: Int = 0, swapMB: Int = 0,
                image: InstanceImage, ports: [InstancePort] = [], volumes: [InstanceVolume] = [], userData: String? = nil,
                keyData: String? = nil, configDrive: Bool = false, metadata: [String: String] = [:], instanceFiles: [String: Data] = [:],
                powerOn: Bool = true) {
        self.id = id
        self.name = name
        self.host = host
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.diskGB = diskGB
        self.ephemeralGB = ephemeralGB
        self.swapMB = swapMB
        self.image = image
        self.ports = ports
        self.volumes = volumes
        self.userData = userData
        self.keyData = keyData
        self.configDrive = configDrive
        self.metadata = metadata
        self.instanceFiles = instanceFiles
        self.powerOn = powerOn
    }
}

/// The image a server boots from, as the Image service describes it; the bytes come from the
/// driver's `ImageSource`.
public struct InstanceImage: Sendable, Equatable, Codable {
    public var id: String
    public var diskFormat: String?
    public var containerFormat: String?
    public var size: Int64?
    public var minDisk: Int
    /// MD5 of the image's data, hex (Glance's `checksum`): what the driver's cache verifies.
    public var checksum: String?
    /// `hw_*` and other properties a driver may honour (machine type, firmware, disk bus).
    public var properties: [String: String]

    public init(id: String, diskFormat: String? = nil, containerFormat: String? = nil, size: Int64? = nil, minDisk: Int = 0,
                checksum: String? = nil, properties: [String: String] = [:]) {
        self.id = id
        self.diskFormat = diskFormat
        self.containerFormat = containerFormat
        self.size = size
        self.minDisk = minDisk
        self.checksum = checksum
        self.properties = properties
    }
}

/// A port as the server's network interface: what the tap carries and how the backend plugs it.
public struct InstancePort: Sendable, Equatable, Codable {
    public var id: String
    public var mac: String
    public var mtu: Int
    public var networkID: String
    /// `binding:vif_type` (`bridge`, `ovs`, `unbound`): how the network backend wires the tap.
    public var vifType: String
    public var fixedIPs: [String]

    public init(id: String, mac: String, mtu: Int, networkID: String = "", vifType: String = "bridge", fixedIPs: [String] = []) {
        self.id = id
        self.mac = mac
        self.mtu = mtu
        self.networkID = networkID
        self.vifType = vifType
        self.fixedIPs = fixedIPs
    }

    /// The tap device's name, as Nova and Neutron name it: `tap` and the port ID's first 11 characters.
    public var deviceName: String { "tap" + String(id.prefix(11)) }
}

extension InstanceSpec {
    /// The volume the server boots from (Nova's boot from volume): the one at `/dev/vda`.
    public var rootVolume: InstanceVolume? { volumes.first { $0.device == "/dev/vda" } }
}

/// A volume as a disk of a server: where its bytes are on the host and which device it appears as.
public struct InstanceVolume: Sendable, Equatable, Codable {
    public var volumeID: String
    /// `/dev/vdb`: the device name the API reports.
    public var device: String
    public var connection: VolumeConnection

    public init(volumeID: String, device: String, connection: VolumeConnection) {
        self.volumeID = volumeID
        self.device = device
        self.connection = connection
    }
}

/// A snapshot of a server's disk: its format and its bytes, streamed.
public struct DiskSnapshot: Sendable {
    public var diskFormat: String
    public var chunks: ByteChunks

    public init(diskFormat: String, chunks: ByteChunks) {
        self.diskFormat = diskFormat
        self.chunks = chunks
    }
}

public enum PowerAction: String, Sendable, Codable, CaseIterable {
    case start, stop, softReboot, hardReboot, pause, unpause, suspend, resume, rescue, unrescue

    /// The power state a server is in after the action.
    public var result: PowerState {
        switch self {
        case .start, .unpause, .resume, .unrescue, .softReboot, .hardReboot, .rescue: return .running
        case .stop: return .shutdown
        case .pause: return .paused
        case .suspend: return .suspended
        }
    }
}

/// Nova's power states, as `OS-EXT-STS:power_state` numbers them.
public enum PowerState: Int, Codable, Sendable {
    case noState = 0, running = 1, paused = 3, shutdown = 4, crashed = 6, suspended = 7
}
