import DriverKit
import Foundation
import MartletCore
import ServiceContracts

/// A server as stored: everything the API shows and the conductor needs. `vmState` and `taskState`
/// are Nova's; the API's `status` is derived from them.
struct Server: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var userID: String
    var name: String
    var description: String?
    var hostname: String
    var vmState: VMState
    var taskState: TaskState?
    var powerState: PowerState
    var host: String?
    /// The zone asked for at create (nil: any), and the host's zone once scheduled.
    var requestedZone: String?
    var availabilityZone: String?
    var flavor: FlavorSnapshot
    /// The flavor before a resize, kept until it is confirmed or reverted.
    var oldFlavor: FlavorSnapshot?
    var imageRef: String
    /// The image a rebuild writes over the boot volume of a volume-backed server (2.93), until it ends.
    var bootVolumeImage: String?
    var keyName: String?
    var keyData: String?
    var userData: String?
    var metadata: [String: String]
    var tags: [String]
    var securityGroups: [String]
    var networks: NetworkRequest
    /// Ports made for the server (deleted with it); ports the user brought are only detached.
    var ownedPorts: [String]
    var addresses: [ServerAddress]
    var configDrive: Bool
    var locked: Bool
    var lockedReason: String?
    var lockedBy: String?
    var accessIPv4: String
    var accessIPv6: String
    var reservationID: String
    var launchIndex: Int
    var schedulerHints: [String: [String]]
    var createdAt: Double
    var updatedAt: Double
    var launchedAt: Double?
    var fault: Fault?
    /// The state to go back to after `rescue`/`shelve`-style detours and for `revertResize`.
    var previousVMState: VMState?
    var rescueImageRef: String?
    /// A move in progress: its migration record, kind (`resize`, `migration`, `live-migration`) and hosts.
    var migrationID: String?
    var moveKind: String?
    var moveSource: String?
    /// The host an admin asked a migration to go to.
    var moveTarget: String?
    /// The image a snapshot or shelve is filling.
    var pendingImage: String?
    /// Device tags of interfaces (2.32 on create, 2.49 on attach), by port id.
    var interfaceTags: [String: String]?
    /// `OS-DCF:diskConfig` AUTO (grow the root partition) rather than MANUAL, as asked on create, rebuild or update.
    var autoDiskConfig: Bool?
    var trustedCertificates: [String]?
    /// What the guest posted to the metadata service's `password` (Nova keeps it in system metadata).
    var password: String?
    /// Block Storage volumes attached to the server, in attach order.
    var volumes: [AttachedVolume]?
    /// Volumes the create asked for (`block_device_mapping_v2`), made and attached by the build.
    var blockDevices: [BlockDeviceRequest]?

    var status: String { Self.status(vmState: vmState, taskState: taskState) }

    /// Forgets a finished move.
    mutating func endMove() {
        migrationID = nil; moveKind = nil; moveSource = nil; moveTarget = nil; previousVMState = nil
    }

    /// Nova's `status` from the states (nova/api/openstack/common.py).
    static func status(vmState: VMState, taskState: TaskState?) -> String {
        switch (vmState, taskState) {
        case (.building, _): return "BUILD"
        case (.active, .rebooting?), (.active, .rebootPending?), (.active, .rebootStarted?): return "REBOOT"
        case (.active, .rebootingHard?), (.active, .rebootPendingHard?), (.active, .rebootStartedHard?): return "HARD_REBOOT"
        case (.active, .rebuilding?), (.active, .rebuildBlockDeviceMapping?), (.active, .rebuildSpawning?),
             (.stopped, .rebuilding?), (.stopped, .rebuildSpawning?): return "REBUILD"
        case (.active, .resizePrep?), (.active, .resizeMigrating?), (.active, .resizeMigrated?), (.active, .resizeFinish?),
             (.stopped, .resizePrep?), (.stopped, .resizeMigrating?), (.stopped, .resizeMigrated?), (.stopped, .resizeFinish?):
            return "RESIZE"
        case (.active, .migrating?): return "MIGRATING"
        case (.resized, .resizeReverting?): return "REVERT_RESIZE"
        default: return vmState.status
        }
    }
}

extension Server {
    /// The server as Networking names its ports: this device in this project.
    var portRef: ServerRef { ServerRef(deviceID: id, projectID: projectID) }

    /// Boots from a Block Storage volume (its `/dev/vda`), not from a disk of its host's.
    var isVolumeBacked: Bool { volumes?.contains { $0.device == "/dev/vda" } == true }
}

enum VMState: String, Codable, Sendable {
    case building, active, stopped, paused, suspended, rescued, resized, shelved
    case shelvedOffloaded = "shelved_offloaded"
    case error, deleted

    var status: String {
        switch self {
        case .building: return "BUILD"
        case .active: return "ACTIVE"
        case .stopped: return "SHUTOFF"
        case .paused: return "PAUSED"
        case .suspended: return "SUSPENDED"
        case .rescued: return "RESCUE"
        case .resized: return "VERIFY_RESIZE"
        case .shelved: return "SHELVED"
        case .shelvedOffloaded: return "SHELVED_OFFLOADED"
        case .error: return "ERROR"
        case .deleted: return "DELETED"
        }
    }

    /// The vm_state a `status` filter names (several statuses share one state).
    static func forStatus(_ status: String) -> VMState? {
        switch status.uppercased() {
        case "BUILD": return .building
        case "ACTIVE", "REBOOT", "HARD_REBOOT", "REBUILD", "RESIZE", "MIGRATING", "PASSWORD": return .active
        case "SHUTOFF": return .stopped
        case "PAUSED": return .paused
        case "SUSPENDED": return .suspended
        case "RESCUE": return .rescued
        case "VERIFY_RESIZE", "REVERT_RESIZE": return .resized
        case "SHELVED": return .shelved
        case "SHELVED_OFFLOADED": return .shelvedOffloaded
        case "ERROR": return .error
        case "DELETED": return .deleted
        default: return nil
        }
    }
}

/// The flavor a server was built with, copied so later flavor changes do not touch it.
struct FlavorSnapshot: Codable, Sendable, Equatable {
    var id: String
    var name: String
    var vcpus: Int
    var ram: Int
    var disk: Int
    var ephemeral: Int
    var swap: Int
    var extraSpecs: [String: String]
}

/// One address of a server, as `addresses` shows it.
struct ServerAddress: Codable, Sendable, Equatable {
    var network: String
    var address: String
    var version: Int
    var mac: String
    var type: String
    var portID: String
}

struct Fault: Codable, Sendable, Equatable {
    var code: Int
    var message: String
    var details: String?
    var created: Double
}

/// The `networks` of a create request.
enum NetworkRequest: Codable, Sendable, Equatable {
    case auto
    case noNetworks
    case list([RequestedNetwork])
}

struct RequestedNetwork: Codable, Sendable, Equatable {
    var networkID: String? = nil
    var portID: String? = nil
    var fixedIP: String? = nil
    var tag: String? = nil
}

/// A volume as a disk of a server: where Compute put it and how the host reaches it.
struct AttachedVolume: Codable, Sendable, Equatable {
    var volumeID: String
    var device: String
    var tag: String?
    var deleteOnTermination: Bool
    var connection: VolumeConnection
}

/// A `block_device_mapping_v2` entry whose destination is a volume.
struct BlockDeviceRequest: Codable, Sendable, Equatable {
    /// `volume`, `image`, `snapshot` or `blank`.
    var sourceType: String
    var uuid: String?
    var bootIndex: Int?
    var volumeSize: Int?
    var deleteOnTermination: Bool
    var deviceName: String?
    var tag: String?

    var isRoot: Bool { bootIndex == 0 }
}
