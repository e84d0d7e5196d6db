import Foundation
import MartletCore
import Testing

@Suite struct ConfigTests {
    @Test func flagsBeatEnvironmentBeatFileBeatDefaults() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("martlet.toml").path
        try "port = 6000\nhost = \"0.0.0.0\"\ntoken_lifetime = 600\nbcrypt_cost = 5\n".write(toFile: file, atomically: true, encoding: .utf8)

        let config = try MartletConfig.load(
            configFile: nil, flags: ["data_dir": dir.path, "port": "7000"],
            environment: ["MARTLET_PORT": "6500", "MARTLET_TOKEN_LIFETIME": "900"])
        #expect(config.port == 7000)            // flag
        #expect(config.tokenLifetime == 900)    // environment over file
        #expect(config.host == "0.0.0.0")       // file over default
        #expect(config.bcryptCost == 5)
        #expect(config.logLevel == "info")      // default
        #expect(config.resolvedPublicURL == "http://127.0.0.1:7000")
    }

    @Test func theQemuDriverSettingsTakeDecimalsAndBooleans() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).toml").path
        try "cpu_allocation_ratio = 10.0\nforce_config_drive = true\nqemu_accelerator = \"tcg\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        let config = try MartletConfig.load(configFile: file, flags: [:], environment: [:])
        #expect(config.cpuAllocationRatio == 10 && config.forceConfigDrive && config.qemuAccelerator == "tcg")
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: nil, flags: ["qemu_accelerator": "xen"], environment: [:]) }
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: nil, flags: [:], environment: ["MARTLET_CPU_ALLOCATION_RATIO": "0"]) }
    }

    @Test func badValuesAreRefusedWithTheirSource() {
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: nil, flags: ["port": "seventy"], environment: [:]) }
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: nil, flags: [:], environment: ["MARTLET_BCRYPT_COST": "99"]) }
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: "/nonexistent/martlet.toml", flags: [:], environment: [:]) }
    }

    @Test func tunnelSettingsTakeAddressesOnly() throws {
        let config = try MartletConfig.load(configFile: nil, flags: [:], environment: ["MARTLET_VXLAN_LOCAL_IP": "192.0.2.1",
                                                                                        "MARTLET_VXLAN_PEERS": "192.0.2.2, 192.0.2.3"])
        #expect(config.vxlanLocalIP == "192.0.2.1" && config.vxlanPeers == ["192.0.2.2", "192.0.2.3"])
        #expect(try MartletConfig.load(configFile: nil, flags: [:], environment: [:]).vxlanLocalIP == nil)
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: nil, flags: ["vxlan_local_ip": "eth0"], environment: [:]) }
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: nil, flags: ["vxlan_peers": "192.0.2.2,peer-b"], environment: [:]) }
    }

    @Test func unknownFileSettingsAreRefused() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).toml").path
        try "prot = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try MartletConfig.load(configFile: file, flags: [:], environment: [:]) }
    }
}
