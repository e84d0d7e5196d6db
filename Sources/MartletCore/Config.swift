import Foundation
import TOMLKit

/// Martlet's settings. Each is read from, in rising precedence: its default, the TOML file
/// (`--config`, else `<data-dir>/martlet.toml` when present), `MARTLET_<NAME>` environment
/// variables, then command-line flags.
public struct MartletConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 5000
    public var dataDir = "./martlet-data"
    /// `postgres://user:pass@host:port/db`; nil is the embedded SQLite file in the data folder.
    public var database: String?
    /// The base URL clients reach this server at (catalog endpoints); default `http://host:port`.
    public var publicURL: String?
    public var tokenLifetime = 3600
    public var bcryptCost = 12
    /// How many token keys are kept: the primary plus retired ones still accepted.
    public var maxActiveKeys = 3
    /// How long a validated token may be reused without reading the database again; writes in this
    /// process clear it at once, so this only bounds how late another process's changes are seen. 0 disables.
    public var validationCacheSeconds = 5
    public var adminPassword: String?
    /// Images a project may own; -1 is unlimited.
    public var imageCountQuota = -1
    /// Bytes of image data a project may store; -1 is unlimited.
    public var imageSizeQuota: Int64 = -1
    public var logLevel = "info"
    /// Segment type of networks projects create: `vxlan`, `vlan` or `local`.
    public var networkTenantType = "vxlan"
    /// VXLAN ids tenant networks take, `first:last[,first:last…]`.
    public var networkVXLANRanges = "1:1000"
    /// VLANs per physical network, `physnet:first:last[,…]`.
    public var networkVLANRanges = "physnet1:1000:2999"
    /// Physical networks flat provider networks may use, comma-separated; `*` for any.
    public var networkFlatNetworks = "*"
    /// The host interface of each physical network, `physnet:interface[,…]` (the linux backend
    /// puts flat networks' bridges on it, and VLAN devices on it under vlan networks' bridges).
    public var physicalInterfaceMappings = ""
    /// This host's address for VXLAN tunnels (Neutron's `[vxlan] local_ip`); none: no VXLAN
    /// devices (one host).
    public var vxlanLocalIP: String?
    /// The other hosts' tunnel addresses: broadcast frames are flooded to them, and tunnel
    /// traffic is taken from them alone.
    public var vxlanPeers: [String] = []
    /// Port MAC addresses keep this address's first three bytes.
    public var networkBaseMAC = "fa:16:3e:00:00:00"
    /// Port of the S3 listener (S3 clients want buckets at the root path); nil is `port + 1`, 0 turns it off.
    public var s3Port: Int?
    /// Port of the console proxy (noVNC page and console websockets); nil is `port + 2`, 0 turns it off.
    public var consolePort: Int?
    /// Where Debian's `novnc` package keeps the noVNC page the console proxy serves.
    public var novncPath = "/usr/share/novnc"
    /// Seconds a console URL's token may wait for its one use (Nova's `[consoleauth] token_ttl`).
    public var consoleTokenTTL = 600
    /// The hypervisor driver: `fake` or `qemu`.
    public var computeDriver = "fake"
    public var networkDriver = "fake"
    public var volumeDriver = "fake"
    /// The fake driver's simulated hosts and what each offers (Nova's fake driver sizes).
    /// The qemu driver's accelerator: `auto` (KVM when a probe guest runs under it), `kvm` or `tcg`.
    public var qemuAccelerator = "auto"
    /// Seconds a guest has to power off after the ACPI button before it is stopped hard.
    public var qemuShutdownTimeout = 60
    /// Seconds a cached image no server uses is kept.
    public var qemuImageCacheMaxAge = 86400
    /// Every server gets a config drive, asked for or not.
    public var forceConfigDrive = false
    /// At start, guests that should run but whose host lost them (a host reboot) are started again,
    /// rather than recorded stopped (Nova's option of that name, off by default as there).
    public var resumeGuestsStateOnHostBoot = false
    /// Seconds a boot waits for the network to wire the server's ports (0: not at all), and
    /// whether the boot then fails (Nova's options of those names and defaults).
    public var vifPluggingTimeout = 300
    public var vifPluggingIsFatal = true
    /// Seconds between comparisons of servers' recorded power states with their hosts'.
    public var powerSyncInterval = 5
    /// Nova's allocation ratios of a real host.
    public var cpuAllocationRatio = 4.0
    public var ramAllocationRatio = 1.0
    public var diskAllocationRatio = 1.0
    public var fakeHosts = 2
    public var fakeHostVCPUs = 1000
    public var fakeHostMemoryMB = 800_000
    public var fakeHostDiskGB = 600_000
    /// How long a fake boot takes, so the BUILD state can be seen.
    public var fakeSpawnDelayMS = 0
    /// `spread` places servers on the emptiest host, `pack` on the fullest that fits.
    public var schedulerWeigher = "spread"
    /// Shared with the metadata proxy that signs `X-Instance-ID`; unset: only direct callers are answered.
    public var metadataProxySecret: String?
    /// Whether creates, rebuilds and rescues answer with the server's admin password (Nova's `enable_instance_password`).
    public var enableInstancePassword = true
    /// Roles that own their project's object-storage account (Swift's keystoneauth `operator_roles`).
    public var objectOperatorRoles = ["admin", "member", "SwiftOperator"]
    /// Roles that may only read their project's account (keystoneauth's `project_reader_roles`).
    public var objectReaderRoles = ["reader"]
    /// The role that reaches every account (keystoneauth's `reseller_admin_role`).
    public var objectResellerAdminRole = "ResellerAdmin"
    /// How many servers one create request may make, whatever the quota (`max_count` is capped to it).
    public var maxServersPerRequest = 1000
    /// Seconds a client may take to send a request's headers (or go quiet mid-body) before it is cut off.
    public var requestReadTimeout = 30
    /// Connections each listener holds open at once; more wait to be accepted.
    public var maxConnections = 1024
    /// Seconds one database transaction may run before it is rolled back.
    public var transactionTimeout = 30

    public init() {}

    public var resolvedPublicURL: String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        return "http://\(loopbackHost.contains(":") ? "[\(loopbackHost)]" : loopbackHost):\(port)"
    }

    /// The address this process reaches its own API listener at.
    public var loopbackHost: String { host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host }

    /// The S3 listener's port, or nil when it is off.
    public var resolvedS3Port: Int? { listenerPort(s3Port, after: 1) }

    /// The base URL of the S3 listener: the public URL's host with the S3 port.
    public var resolvedS3URL: String? { resolvedS3Port.flatMap(publicURL(port:)) }

    /// The console proxy's port, or nil when it is off.
    public var resolvedConsolePort: Int? { listenerPort(consolePort, after: 2) }

    /// The base URL of the console proxy: the public URL's host with the console port.
    public var resolvedConsoleURL: String? { resolvedConsolePort.flatMap(publicURL(port:)) }

    /// A second listener's port: as configured, else `offset` after the main one; 0 (or a main port
    /// of 0) turns it off.
    private func listenerPort(_ configured: Int?, after offset: Int) -> Int? {
        let port = configured ?? (self.port == 0 ? 0 : self.port + offset)
        return port == 0 ? nil : port
    }

    private func publicURL(port: Int) -> String? {
        guard var parts = URLComponents(string: resolvedPublicURL) else { return nil }
        parts.port = port
        parts.path = ""
        return parts.string
    }

    public var dataURL: URL { URL(fileURLWithPath: dataDir, isDirectory: true) }

    /// The keys every layer may set; TOML and environment names derive from them.
    public static let keys = ["host", "port", "data_dir", "database", "public_url", "token_lifetime",
                              "bcrypt_cost", "max_active_keys", "admin_password", "log_level",
                              "image_count_quota", "image_size_quota", "validation_cache_seconds",
                              "network_tenant_type", "network_vxlan_ranges", "network_vlan_ranges",
                              "network_flat_networks", "physical_interface_mappings", "vxlan_local_ip", "vxlan_peers", "network_base_mac", "s3_port", "console_port", "novnc_path", "console_token_ttl", "compute_driver", "network_driver", "network_backend", "volume_driver", "fake_hosts", "qemu_accelerator",
                              "qemu_shutdown_timeout", "qemu_image_cache_max_age", "force_config_drive", "resume_guests_state_on_host_boot", "vif_plugging_timeout", "vif_plugging_is_fatal", "power_sync_interval", "cpu_allocation_ratio",
                              "ram_allocation_ratio", "disk_allocation_ratio",
                              "fake_host_vcpus", "fake_host_memory_mb", "fake_host_disk_gb", "fake_spawn_delay_ms",
                              "scheduler_weigher", "metadata_proxy_secret", "object_operator_roles", "object_reader_roles",
                              "object_reseller_admin_role", "max_servers_per_request", "request_read_timeout", "max_connections",
                              "transaction_timeout", "enable_instance_password"]

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// Applies one layer of `key = value` settings, validating each.
    public mutating func apply(_ layer: [String: String], source: String) throws {
        func int(_ key: String, _ value: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw ConfigError("\(source): \(key) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(value)'")
            }
            return n
        }
        func bool(_ key: String, _ value: String) throws -> Bool {
            guard let flag = ["true": true, "false": false, "1": true, "0": false][value.lowercased()] else {
                throw ConfigError("\(source): \(key) must be true or false")
            }
            return flag
        }
        func ratio(_ key: String, _ value: String) throws -> Double {
            guard let r = Double(value), r > 0, r <= 1000 else { throw ConfigError("\(source): \(key) must be a number above 0, got '\(value)'") }
            return r
        }
        // Which names exist is the executable's driver registry's to say; here only their shape.
        func driverName(_ key: String, _ value: String) throws -> String {
            guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ConfigError("\(source): \(key) must name a driver, got '\(value)'")
            }
            return value
        }
        for (key, value) in layer {
            switch key {
            case "host": host = value
            case "port": port = try int(key, value, 0...65535)
            case "data_dir": dataDir = value
            case "database": database = value.isEmpty ? nil : value
            case "public_url": publicURL = value.isEmpty ? nil : value
            case "token_lifetime": tokenLifetime = try int(key, value, 60...(366 * 86400))
            case "bcrypt_cost": bcryptCost = try int(key, value, 4...31)
            case "max_active_keys": maxActiveKeys = try int(key, value, 2...100)
            case "admin_password": adminPassword = value
            case "validation_cache_seconds": validationCacheSeconds = try int(key, value, 0...3600)
            case "image_count_quota": imageCountQuota = try int(key, value, -1...Int.max)
            case "image_size_quota": imageSizeQuota = Int64(try int(key, value, -1...Int.max))
            case "network_tenant_type":
                guard ["vxlan", "vlan", "local"].contains(value) else {
                    throw ConfigError("\(source): network_tenant_type must be vxlan, vlan or local")
                }
                networkTenantType = value
            case "network_vxlan_ranges": networkVXLANRanges = value
            case "network_vlan_ranges": networkVLANRanges = value
            case "network_flat_networks": networkFlatNetworks = value
            case "physical_interface_mappings": physicalInterfaceMappings = value
            case "vxlan_local_ip":
                guard value.isEmpty || Self.isIPAddress(value) else { throw ConfigError("\(source): vxlan_local_ip must be an IP address, got '\(value)'") }
                vxlanLocalIP = value.isEmpty ? nil : value
            case "vxlan_peers":
                let peers = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                if let bad = peers.first(where: { !Self.isIPAddress($0) }) { throw ConfigError("\(source): vxlan_peers must be IP addresses, got '\(bad)'") }
                vxlanPeers = peers
            case "network_base_mac": networkBaseMAC = value
            case "s3_port": s3Port = try int(key, value, 0...65535)
            case "console_port": consolePort = try int(key, value, 0...65535)
            case "novnc_path": novncPath = value
            case "console_token_ttl": consoleTokenTTL = try int(key, value, 1...86400)
            case "compute_driver": computeDriver = try driverName(key, value)
            case "network_driver", "network_backend": networkDriver = try driverName(key, value)
            case "volume_driver": volumeDriver = try driverName(key, value)
            case "qemu_accelerator":
                guard ["auto", "kvm", "tcg"].contains(value) else { throw ConfigError("\(source): \(key) must be auto, kvm or tcg") }
                qemuAccelerator = value
            case "qemu_shutdown_timeout": qemuShutdownTimeout = try int(key, value, 0...3600)
            case "qemu_image_cache_max_age": qemuImageCacheMaxAge = try int(key, value, 0...Int(Int32.max))
            case "force_config_drive": forceConfigDrive = try bool(key, value)
            case "resume_guests_state_on_host_boot": resumeGuestsStateOnHostBoot = try bool(key, value)
            case "vif_plugging_timeout": vifPluggingTimeout = try int(key, value, 0...86400)
            case "vif_plugging_is_fatal": vifPluggingIsFatal = try bool(key, value)
            case "power_sync_interval": powerSyncInterval = try int(key, value, 1...86400)
            case "cpu_allocation_ratio": cpuAllocationRatio = try ratio(key, value)
            case "ram_allocation_ratio": ramAllocationRatio = try ratio(key, value)
            case "disk_allocation_ratio": diskAllocationRatio = try ratio(key, value)
            case "fake_hosts": fakeHosts = try int(key, value, 1...1000)
            case "fake_host_vcpus": fakeHostVCPUs = try int(key, value, 1...1_000_000)
            case "fake_host_memory_mb": fakeHostMemoryMB = try int(key, value, 1...1_000_000_000)
            case "fake_host_disk_gb": fakeHostDiskGB = try int(key, value, 1...1_000_000_000)
            case "fake_spawn_delay_ms": fakeSpawnDelayMS = try int(key, value, 0...600_000)
            case "scheduler_weigher":
                guard ["spread", "pack"].contains(value) else { throw ConfigError("\(source): scheduler_weigher must be spread or pack") }
                schedulerWeigher = value
            case "metadata_proxy_secret": metadataProxySecret = value.isEmpty ? nil : value
            case "object_operator_roles": objectOperatorRoles = Self.list(value)
            case "object_reader_roles": objectReaderRoles = Self.list(value)
            case "object_reseller_admin_role":
                guard !value.isEmpty else { throw ConfigError("\(source): object_reseller_admin_role must name a role") }
                objectResellerAdminRole = value
            case "max_servers_per_request": maxServersPerRequest = try int(key, value, 1...100_000)
            case "request_read_timeout": requestReadTimeout = try int(key, value, 1...3600)
            case "max_connections": maxConnections = try int(key, value, 1...1_000_000)
            case "transaction_timeout": transactionTimeout = try int(key, value, 1...3600)
            case "enable_instance_password": enableInstancePassword = try bool(key, value)
            case "log_level":
                guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(value) else {
                    throw ConfigError("\(source): log_level must be one of trace, debug, info, notice, warning, error, critical")
                }
                logLevel = value
            default: throw ConfigError("\(source): unknown setting '\(key)'")
            }
        }
    }

    /// A comma-separated list, blanks dropped.
    static func list(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The layer of `MARTLET_*` environment variables.
    public static func environmentLayer(_ environment: [String: String]) -> [String: String] {
        var layer: [String: String] = [:]
        for key in keys {
            if let value = environment["MARTLET_" + key.uppercased()] { layer[key] = value }
        }
        return layer
    }

    /// The layer of a TOML file: top-level `key = value` pairs.
    public static func fileLayer(path: String) throws -> [String: String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch {
            throw ConfigError("config file \(path) is not valid TOML: \(error)")
        }
        var layer: [String: String] = [:]
        for (key, value) in table {
            if let s = value.string { layer[key] = s }
            else if let i = value.int { layer[key] = String(i) }
            else if let d = value.double { layer[key] = String(d) }
            else if let b = value.bool { layer[key] = String(b) }
            else { throw ConfigError("config file \(path): '\(key)' must be a string or a number") }
        }
        return layer
    }

    /// Resolves the full configuration from every layer.
    public static func load(configFile: String?, flags: [String: String], environment: [String: String]) throws -> MartletConfig {
        let env = environmentLayer(environment)
        var config = MartletConfig()
        // The data folder decides where the default config file is, so find it first.
        let dataDir = flags["data_dir"] ?? env["data_dir"] ?? config.dataDir
        let file = configFile ?? environment["MARTLET_CONFIG"]
            ?? { let p = (dataDir as NSString).appendingPathComponent("martlet.toml"); return FileManager.default.fileExists(atPath: p) ? p : nil }()
        if let file { try config.apply(try fileLayer(path: file), source: file) }
        try config.apply(env, source: "environment")
        try config.apply(flags, source: "command line")
        return config
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
