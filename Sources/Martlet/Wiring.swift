import BlockStorage
import Compute
import Foundation
import Identity
import Image
import Logging
import MartletCore
import Networking
import ObjectStorage
import MartletStore

/// Assembles the services from the configuration. The one place that knows every target.
struct Wiring {
    let config: MartletConfig
    let logger: Logger
    let database: Database
    let identity: IdentityService
    let image: ImageService
    let network: NetworkService
    let objectStorage: ObjectStorageService
    let compute: ComputeService
    let blockStorage: BlockStorageService

    var services: [any APIService] { [identity, compute, image, network, objectStorage, blockStorage] }

    static let migrations: [Migration] = IdentityService.migrations + ImageService.migrations + NetworkService.migrations
        + ObjectStorageService.migrations + ComputeService.migrations + BlockStorageService.migrations

    static func open(_ options: ConfigOptions) async throws -> Wiring {
        var config = try options.load()
        if config.networkDriver == "linux", config.metadataProxySecret == nil {
            // The proxy runs in this process: a secret of its own each start is enough.
            config.metadataProxySecret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max)) }.joined()
        }
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return AdjustableLogHandler(label: label, base: handler)
        }
        let logger = Logger(label: "martlet")
        try FileManager.default.createDirectory(at: config.dataURL, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let database = try Database.open(url: config.database, dataDir: config.dataURL, logger: Logger(label: "martlet.store"))
        database.transactionTimeout = .seconds(config.transactionTimeout)
        let identity = try IdentityService(database: database, config: config)
        let image = try ImageService(database: database, config: config)
        let drivers = DriverRegistry.Environment(config: config, images: CatalogImageSource(catalog: image))
        let hypervisor = try await DriverRegistry.make("compute_driver", config.computeDriver, from: DriverRegistry.hypervisors, drivers)
        let backend = try await DriverRegistry.make("network_driver", config.networkDriver, from: DriverRegistry.networkBackends, drivers)
        let volumeDriver = try await DriverRegistry.make("volume_driver", config.volumeDriver, from: DriverRegistry.volumeDrivers, drivers)
        let network = try NetworkService(database: database, config: config, backend: backend)
        let objectStorage = try ObjectStorageService(database: database, config: config, credentials: identity)
        let blockStorage = BlockStorageService(database: database, config: config, driver: volumeDriver, images: image, objects: objectStorage, projects: identity)
        let compute = ComputeService(database: database, config: config, ports: network, images: image, hypervisor: hypervisor, volumes: blockStorage)
        blockStorage.serverEvents.set(compute)
        return Wiring(config: config, logger: logger, database: database,
                      identity: identity, image: image, network: network, objectStorage: objectStorage,
                      compute: compute, blockStorage: blockStorage)
    }

    /// Opens the database, brings its schema up to date and bootstraps the cloud.
    static func prepare(_ options: ConfigOptions) async throws -> Wiring {
        let wiring = try await open(options)
        try await wiring.database.migrate(migrations)
        try await bootstrap(wiring)
        return wiring
    }

    /// Bootstraps the cloud and, when the admin password is known, writes the client files.
    static func bootstrap(_ w: Wiring) async throws {
        var entries = w.services.map { (type: $0.catalogType, name: $0.catalogName, path: $0.catalogPath) }
        if let s3 = w.config.resolvedS3URL { entries.append((type: "s3", name: "s3", path: s3)) }
        let alias = BlockStorageService.aliasCatalogType
        entries.append((type: alias.type, name: alias.name, path: w.blockStorage.catalogPath))
        let result = try await w.identity.bootstrap(adminPassword: w.config.adminPassword, services: entries,
                                                    roles: ObjectStorageService.roles + ComputeService.roles)
        let password = result.generatedPassword ?? w.config.adminPassword
        let files = ClientFiles(config: w.config)
        if let password, result.createdAdmin || !files.exist {
            try files.write(password: password)
            if let generated = result.generatedPassword {
                say("admin password (shown once): \(generated)")
            }
            say("""
                wrote \(files.cloudsYAML.path) and \(files.openrc.path):
                  export OS_CLIENT_CONFIG_FILE=\(files.cloudsYAML.path) OS_CLOUD=martlet   # then: openstack token issue
                  or: source \(files.openrc.path)
                """)
        }
    }
}

/// Writes to stdout at once (print is block-buffered when stdout is a file or pipe).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// `clouds.yaml` (cloud `martlet`) and `openrc` for the admin, written 0600 into the data folder.
struct ClientFiles {
    let config: MartletConfig
    var cloudsYAML: URL { config.dataURL.appendingPathComponent("clouds.yaml") }
    var openrc: URL { config.dataURL.appendingPathComponent("openrc") }
    var exist: Bool { FileManager.default.fileExists(atPath: cloudsYAML.path) && FileManager.default.fileExists(atPath: openrc.path) }

    func write(password: String) throws {
        let authURL = "\(config.resolvedPublicURL)/identity/v3"
        let quoted = "'" + password.replacingOccurrences(of: "'", with: "''") + "'"
        let yaml = """
            clouds:
              martlet:
                auth:
                  auth_url: \(authURL)
                  username: admin
                  password: \(quoted)
                  project_name: admin
                  user_domain_name: Default
                  project_domain_name: Default
                region_name: RegionOne
                identity_api_version: 3
                interface: public

            """
        let shellQuoted = "'" + password.replacingOccurrences(of: "'", with: "'\\''") + "'"
        let rc = """
            export OS_AUTH_URL=\(authURL)
            export OS_USERNAME=admin
            export OS_PASSWORD=\(shellQuoted)
            export OS_PROJECT_NAME=admin
            export OS_USER_DOMAIN_NAME=Default
            export OS_PROJECT_DOMAIN_NAME=Default
            export OS_REGION_NAME=RegionOne
            export OS_IDENTITY_API_VERSION=3

            """
        for (url, text) in [(cloudsYAML, yaml), (openrc, rc)] {
            FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        }
    }
}
