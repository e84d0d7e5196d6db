import DriverKit
import Foundation
import MartletCore

/// What the qemu driver reads from Martlet's configuration.
public struct QemuSettings: Sendable {
    /// The driver keeps its image cache and servers' folders under `<dataDir>/qemu`.
    public var dataDir: String
    public var binary = "qemu-system-x86_64"
    /// `auto` (KVM when a probe guest runs under it), `kvm` or `tcg`.
    public var accelerator = "auto"
    /// How long a guest has to power off after the ACPI button before it is stopped hard.
    public var shutdownTimeout: Duration = .seconds(60)
    /// Cached images no server uses are removed after this long.
    public var imageCacheMaxAge: TimeInterval = 86400
    /// Every server gets a config drive, asked for or not.
    public var forceConfigDrive = false
    /// The host's name as the scheduler and the API show it.
    public var hostName = ProcessInfo.processInfo.hostName
    public var cpuAllocationRatio = 4.0
    public var ramAllocationRatio = 1.0
    public var diskAllocationRatio = 1.0

    public init(dataDir: String) { self.dataDir = dataDir }

    public init(config: MartletConfig) {
        self.init(dataDir: config.dataURL.path)
        accelerator = config.qemuAccelerator
        shutdownTimeout = .seconds(config.qemuShutdownTimeout)
        imageCacheMaxAge = TimeInterval(config.qemuImageCacheMaxAge)
        forceConfigDrive = config.forceConfigDrive
        cpuAllocationRatio = config.cpuAllocationRatio
        ramAllocationRatio = config.ramAllocationRatio
        diskAllocationRatio = config.diskAllocationRatio
    }

    var root: String { "\(dataDir)/qemu" }
    /// Servers' sockets, short enough for a socket path whatever the data folder's path.
    var socketsFolder: String { RuntimeFolder.path(dataDir: dataDir) }
    var instancesFolder: String { "\(root)/instances" }
    var imagesFolder: String { "\(root)/images" }
}
