import ArgumentParser
import Foundation
import MartletCore

/// The settings every command accepts; each flag overrides its MARTLET_* variable and the TOML file.
struct ConfigOptions: ParsableArguments {
    @Option(help: "TOML config file (default: <data-dir>/martlet.toml when present; env MARTLET_CONFIG).")
    var config: String?
    @Option(help: "Address to listen on (default 127.0.0.1; env MARTLET_HOST).")
    var host: String?
    @Option(help: "Port to listen on (default 5000; env MARTLET_PORT).")
    var port: Int?
    @Option(name: .customLong("data-dir"), help: "Data folder: SQLite database, token keys, clouds.yaml (default ./martlet-data; env MARTLET_DATA_DIR).")
    var dataDir: String?
    @Option(help: "postgres://user:password@host:port/database; default is SQLite in the data folder (env MARTLET_DATABASE).")
    var database: String?
    @Option(name: .customLong("public-url"), help: "Base URL clients use to reach this server, for the catalog (default http://<host>:<port>; env MARTLET_PUBLIC_URL).")
    var publicURL: String?
    @Option(name: .customLong("token-lifetime"), help: "Token lifetime in seconds (default 3600; env MARTLET_TOKEN_LIFETIME).")
    var tokenLifetime: Int?
    @Option(name: .customLong("bcrypt-cost"), help: "bcrypt cost for password hashes, 4-31 (default 12; env MARTLET_BCRYPT_COST).")
    var bcryptCost: Int?
    @Option(name: .customLong("max-active-keys"), help: "Token keys kept: the primary plus retired ones (default 3; env MARTLET_MAX_ACTIVE_KEYS).")
    var maxActiveKeys: Int?
    @Option(name: .customLong("admin-password"), help: "Password for the bootstrap admin user; generated and printed when unset (env MARTLET_ADMIN_PASSWORD).")
    var adminPassword: String?
    @Option(name: .customLong("s3-port"), help: "Port of the S3 listener; 0 turns it off (default: --port + 1; env MARTLET_S3_PORT).")
    var s3Port: Int?
    @Option(name: .customLong("console-port"), help: "Port of the console proxy (noVNC and serial websockets); 0 turns it off (default: --port + 2; env MARTLET_CONSOLE_PORT).")
    var consolePort: Int?
    @Option(name: .customLong("compute-driver"), help: "Hypervisor driver: fake or qemu (default fake; env MARTLET_COMPUTE_DRIVER).")
    var computeDriver: String?
    @Option(name: .customLong("network-backend"), help: "Data plane: fake or linux (default fake; env MARTLET_NETWORK_BACKEND).")
    var networkBackend: String?
    @Option(name: .customLong("volume-driver"), help: "Volume driver: fake or file (qcow2 files in the data folder) (default fake; env MARTLET_VOLUME_DRIVER).")
    var volumeDriver: String?
    @Option(name: .customLong("qemu-accelerator"), help: "auto, kvm or tcg (default auto: KVM when a probe guest runs under it; env MARTLET_QEMU_ACCELERATOR).")
    var qemuAccelerator: String?
    @Option(name: .customLong("fake-hosts"), help: "Hosts the fake hypervisor simulates (default 2; env MARTLET_FAKE_HOSTS).")
    var fakeHosts: Int?
    @Option(name: .customLong("fake-spawn-delay-ms"), help: "How long a fake boot takes, in milliseconds (default 0; env MARTLET_FAKE_SPAWN_DELAY_MS).")
    var fakeSpawnDelayMS: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info; env MARTLET_LOG_LEVEL).")
    var logLevel: String?

    func load() throws -> MartletConfig {
        var flags: [String: String] = [:]
        flags["host"] = host
        flags["port"] = port.map(String.init)
        flags["data_dir"] = dataDir
        flags["database"] = database
        flags["public_url"] = publicURL
        flags["token_lifetime"] = tokenLifetime.map(String.init)
        flags["bcrypt_cost"] = bcryptCost.map(String.init)
        flags["max_active_keys"] = maxActiveKeys.map(String.init)
        flags["admin_password"] = adminPassword
        flags["log_level"] = logLevel
        flags["s3_port"] = s3Port.map(String.init)
        flags["console_port"] = consolePort.map(String.init)
        flags["compute_driver"] = computeDriver
        flags["network_backend"] = networkBackend
        flags["volume_driver"] = volumeDriver
        flags["qemu_accelerator"] = qemuAccelerator
        flags["fake_hosts"] = fakeHosts.map(String.init)
        flags["fake_spawn_delay_ms"] = fakeSpawnDelayMS.map(String.init)
        do {
            return try MartletConfig.load(configFile: config, flags: flags, environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }
}
