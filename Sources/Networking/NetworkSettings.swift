import MartletCore
import SQLKit

/// The Network service's configuration, parsed and checked once at start.
struct NetworkSettings: Sendable {
    var tenantNetworkType: String
    var vxlanRanges: [ClosedRange<Int>]
    var vlanRanges: [(physnet: String, range: ClosedRange<Int>)]
    var flatNetworks: Set<String>
    var baseMAC: String
    /// The MTU of the physical network; tunnelled networks lose their encapsulation overhead from it.
    var physicalMTU = 1500

    init(_ config: MartletConfig) throws {
        tenantNetworkType = config.networkTenantType
        vxlanRanges = try config.networkVXLANRanges.split(separator: ",").map { part in
            let bounds = part.split(separator: ":").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard bounds.count == 2, let low = bounds[0], let high = bounds[1], 1 <= low, low <= high, high <= 16_777_215 else {
                throw ConfigError("network_vxlan_ranges: '\(part)' is not first:last within 1–16777215")
            }
            return low...high
        }
        vlanRanges = try config.networkVLANRanges.split(separator: ",").map { part in
            let fields = part.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 3, !fields[0].isEmpty, let low = Int(fields[1]), let high = Int(fields[2]), 1 <= low, low <= high, high <= 4094 else {
                throw ConfigError("network_vlan_ranges: '\(part)' is not physnet:first:last within 1–4094")
            }
            return (fields[0], low...high)
        }
        flatNetworks = Set(config.networkFlatNetworks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        guard MACAddress.normalized(config.networkBaseMAC) != nil else {
            throw ConfigError("network_base_mac: '\(config.networkBaseMAC)' is not a unicast MAC address")
        }
        baseMAC = config.networkBaseMAC.lowercased()
    }

    func mtu(for networkType: String) -> Int {
        networkType == "vxlan" ? physicalMTU - 50 : physicalMTU
    }
}

/// Per-project limits: Neutron's defaults, overridden per project through `/v2.0/quotas`.
struct NetworkQuotas: Sendable {
    let store: NetworkStore

    static let defaults: [String: Int] = [
        "network": 100, "subnet": 100, "subnetpool": -1, "port": 500, "router": 10, "floatingip": 50,
        "security_group": 10, "security_group_rule": 100, "rbac_policy": 10,
    ]
    static let tables: [String: ResourceTable] = [
        "network": .networks, "subnet": .subnets, "subnetpool": .subnetPools, "port": .ports, "router": .routers,
        "floatingip": .floatingIPs, "security_group": .securityGroups, "security_group_rule": .securityGroupRules,
    ]

    func limits(project: String, in db: any SQLDatabase) async throws -> [String: Int] {
        let overrides = try await store.quotaOverrides(project: project, in: db)[project] ?? [:]
        return Self.defaults.merging(overrides) { _, new in new }
    }

    func limit(_ resource: String, project: String, in db: any SQLDatabase) async throws -> Int {
        try await limits(project: project, in: db)[resource] ?? -1
    }
}
