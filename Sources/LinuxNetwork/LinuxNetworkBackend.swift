import DriverKit
import Foundation
import Logging

/// The data plane of one host from Linux's own parts, as Neutron's Linux bridge agent builds it:
/// a bridge per network, a VXLAN device on it for `vxlan` networks, and the taps of the servers'
/// ports on their network's bridge. Every call converges one object to its plan.
///
/// Not built yet: DHCP (dnsmasq), routers and floating IPs, security groups (nftables), the
/// metadata proxy, `vlan` and `flat` provider networks. Ports it cannot wire stay `DOWN`.
public final class LinuxNetworkBackend: NetworkBackend {
    public let hosts: [String]
    let logger: Logger

    public init(host: String = ProcessInfo.processInfo.hostName, logger: Logger = Logger(label: "martlet.linux-network")) {
        hosts = [host]
        self.logger = logger
        logger.warning("the linux network backend wires networks and ports only: no DHCP, routers or security groups yet")
    }

    public func vifType(host: String) -> String { "bridge" }

    public func apply(network: NetworkPlan) async throws {
        let bridge = DeviceNames.bridge(network: network.id)
        switch network.networkType {
        case "vxlan":
            guard let vni = network.segmentationID else { throw DriverError.invalidInput("vxlan network \(network.id) has no VNI") }
            try await Links.bridge(bridge, mtu: network.mtu, up: network.adminStateUp)
            try await Links.vxlan(DeviceNames.vxlan(vni: vni), vni: vni, bridge: bridge, mtu: network.mtu)
        case "local":
            try await Links.bridge(bridge, mtu: network.mtu, up: network.adminStateUp)
        default:
            throw DriverError.unsupported("\(network.networkType) networks are not wired by the linux backend yet")
        }
    }

    public func removeNetwork(id: String) async throws {
        let bridge = DeviceNames.bridge(network: id)
        for link in try await Links.all() where link.master == bridge && link.kind == "vxlan" { try await Links.delete(link.ifname) }
        try await Links.delete(bridge)
    }

    /// A server's port: its tap on the network's bridge. Other ports (DHCP, routers) come with
    /// the parts that use them.
    public func apply(port: PortPlan) async throws {
        guard port.deviceOwner.hasPrefix("compute:") else {
            throw DriverError.unsupported("\(port.deviceOwner.isEmpty ? "unowned" : port.deviceOwner) ports are not wired by the linux backend yet")
        }
        let bridge = DeviceNames.bridge(network: port.networkID)
        // The bridge carries the network's MTU, so a restarted backend needs nothing remembered.
        guard let mtu = Links.mtu(bridge) else {
            throw DriverError.transient("network \(port.networkID) of port \(port.id) is not wired yet")
        }
        try await Links.tap(DeviceNames.tap(port: port.id), bridge: bridge, mtu: mtu, up: port.adminStateUp)
    }

    public func removePort(id: String) async throws {
        try await Links.delete(DeviceNames.tap(port: id))
    }

    public func apply(router: RouterPlan) async throws {
        throw DriverError.unsupported("routers are not wired by the linux backend yet")
    }

    public func removeRouter(id: String) async throws {}

    public func apply(securityGroup: SecurityGroupPlan) async throws {
        throw DriverError.unsupported("security groups are not enforced by the linux backend yet")
    }

    public func removeSecurityGroup(id: String) async throws {}
}
