import DriverKit
import FileVolumeDriver
import LinuxNetwork
import Logging
import MartletCore
import QemuDriver
import ServiceContracts

/// The drivers this binary links, by the name `compute_driver`, `network_driver` and
/// `volume_driver` give. Services never choose a driver; a real driver joins by adding its
/// target to the executable and a line here.
struct DriverRegistry {
    /// What a driver may need from the cloud besides its configuration.
    struct Environment {
        let config: MartletConfig
        let images: any ImageSource
    }

    typealias Factory<Driver> = @Sendable (Environment) async throws -> Driver

    static let hypervisors: [String: Factory<any Hypervisor>] = [
        "fake": { env in FakeHypervisor(config: env.config) },
        "qemu": { env in try await QemuHypervisor.start(QemuSettings(config: env.config), images: env.images) },
    ]

    static let networkBackends: [String: Factory<any NetworkBackend>] = [
        "fake": { env in FakeNetworkBackend(config: env.config) },
        "linux": { env in
            LinuxNetworkBackend(runtime: RuntimeFolder.path(dataDir: env.config.dataDir, kind: "martlet-network"),
                                interfaceMappings: env.config.physicalInterfaceMappings,
                                tunnelIP: env.config.vxlanLocalIP, tunnelPeers: env.config.vxlanPeers,
                                metadata: env.config.metadataProxySecret.map { MetadataProxy.Upstream(host: env.config.loopbackHost, port: env.config.port, secret: $0) })
        },
    ]

    static let volumeDrivers: [String: Factory<any VolumeDriver>] = [
        "fake": { _ in FakeVolumeDriver() },
        "file": { env in try FileVolumeDriver(folder: env.config.dataURL.appendingPathComponent("volumes", isDirectory: true).path, images: env.images) },
    ]

    static func make<Driver>(_ kind: String, _ name: String, from table: [String: Factory<Driver>], _ env: Environment) async throws -> Driver {
        guard let factory = table[name] else {
            throw ConfigError("\(kind) '\(name)' is not one this binary has (it has: \(table.keys.sorted().joined(separator: ", ")))")
        }
        return try await factory(env)
    }
}

/// The Image service as the place hypervisors fetch images from, in process.
struct CatalogImageSource: ImageSource {
    let catalog: any ImageCatalog
    func imageData(id: String) async throws -> ByteChunks? { try await catalog.imageData(id: id) }
    func imageFile(id: String) async throws -> String? { try await catalog.imageFile(id: id) }
}
