import DriverKit
import Foundation
import Logging

/// The data plane of one host from Linux's own parts, as Neutron's Linux bridge agent builds it:
/// a bridge per network and the taps of the servers' ports on their network's bridge. Every call
/// converges one object to its plan.
///
/// DHCP is a dnsmasq per network in its `qdhcp-` namespace (see `DHCPServer`); security groups
/// and anti-spoofing are nftables rules (see `Firewall`); a router is a `qrouter-` namespace (see
/// `RouterNamespace`); guests reach the metadata service through a proxy in their router's
/// namespace, or their DHCP namespace on a network without a router (see `MetadataProxy`).
///
/// `flat` and `vlan` provider networks reach the host interface mapped to their physical network
/// (see `Uplinks`); `vxlan` networks reach other hosts through VXLAN devices once the host has a
/// tunnel address (see `Tunnels`).
///
/// IPv6: routers forward it and advertise their legs' prefixes (see `RouterAdvertiser`);
/// dnsmasq answers DHCPv6 on stateful and stateless subnets. Ports it cannot wire stay `DOWN`.
public final class LinuxNetworkBackend: NetworkBackend {
    public let hosts: [String]
    let dhcp: DHCPServer
    let firewall: Firewall
    /// One empty file per router it has built, named by its ID.
    let routers: String
    let uplinks: Uplinks
    let tunnels: Tunnels
    let advertiser: RouterAdvertiser
    /// None without a metadata service to pass guests' requests to.
    let metadata: MetadataProxy?
    let logger: Logger

    /// `runtime`: where dnsmasq's files go (`RuntimeFolder`); `interfaceMappings`:
    /// `physnet:interface[,…]`; `tunnelIP`: this host's VXLAN address, `tunnelPeers` the other hosts'.
    public init(host: String = ProcessInfo.processInfo.hostName, runtime: String, interfaceMappings: String = "",
                tunnelIP: String? = nil, tunnelPeers: [String] = [],
                metadata: MetadataProxy.Upstream? = nil, logger: Logger = Logger(label: "martlet.linux-network")) {
        hosts = [host]
        dhcp = DHCPServer(root: "\(runtime)/dhcp", logger: logger)
        firewall = Firewall(runtime: runtime, logger: logger)
        routers = "\(runtime)/routers"
        uplinks = Uplinks(interfaceMappings)
        tunnels = Tunnels(localIP: tunnelIP, peers: tunnelPeers, table: Nft.table(runtime: runtime))
        advertiser = RouterAdvertiser(root: "\(runtime)/radvd", logger: logger)
        self.metadata = metadata.map { MetadataProxy(upstream: $0, logger: logger) }
        self.logger = logger
    }

    public var servesDHCP: Bool { true }
    public func vifType(host: String) -> String { "bridge" }

    /// The network's bridge, with its uplink or its VXLAN device.
    public func apply(network: NetworkPlan) async throws {
        // Recorded first, so a port of a network this backend cannot build is told so.
        try await dhcp.record(network)
        _ = try uplinks.device(network)
        let bridge = DeviceNames.bridge(network: network.id)
        try await Links.bridge(bridge, mtu: network.mtu, up: network.adminStateUp)
        try await uplinks.attach(network, bridge: bridge)
        try await tunnels.attach(network, bridge: bridge)
        try await firewall.apply(network: network.id, bridge: bridge)
        // The DHCP port may have been wired before the network had its subnets.
        if let port = dhcp.dhcpPort(network.id) { try await addressDHCPInterface(port, network) }
        try await dhcp.converge(network.id)
        try await serveMetadata(network)
    }

    /// The DHCP port's addresses, with their subnets' prefixes, on its interface in the network's
    /// namespace (once there), and no others: dnsmasq answers a subnet only through an address in it.
    private func addressDHCPInterface(_ port: PortPlan, _ network: NetworkPlan) async throws {
        let namespace = Namespaces.dhcp(network: network.id), inside = DeviceNames.dhcpInterface(port: port.id)
        guard await Links.exists(inside, in: namespace) else { return }
        let subnets = network.subnets.compactMap { IPPrefix($0.cidr) }
        try await Links.setAddresses(inside, in: namespace, port.fixedIPs.compactMap { ip in
            subnets.first { $0.contains(ip) }.map { "\(ip)/\($0.length)" }
        })
    }

    /// The proxy in the network's DHCP namespace while a subnet has DHCP and no router.
    private func serveMetadata(_ network: NetworkPlan) async throws {
        guard let metadata else { return }
        let namespace = Namespaces.dhcp(network: network.id)
        if !DHCPServer.isolated(network).isEmpty, let port = dhcp.dhcpPort(network.id),
           await Links.exists(DeviceNames.dhcpInterface(port: port.id), in: namespace) {
            try await metadata.serve(namespace: namespace, networks: [network.id])
        } else {
            await metadata.stop(namespace: namespace)
        }
    }

    public func removeNetwork(id: String) async throws {
        await metadata?.stop(namespace: Namespaces.dhcp(network: id))
        if let plan = dhcp.plan(id) {
            await uplinks.detach(plan)
            await tunnels.detach(plan)
        }
        await dhcp.remove(id)
        try await Namespaces.delete(Namespaces.dhcp(network: id))
        try await Links.delete(DeviceNames.bridge(network: id))
        await firewall.remove(network: id, bridge: DeviceNames.bridge(network: id))
    }

    /// A server's port: its tap on the network's bridge, and its addresses in the network's DHCP
    /// hosts. The DHCP port: a veth from the bridge into the network's `qdhcp-` namespace. Other
    /// ports (routers') come with the parts that use them.
    public func apply(port: PortPlan) async throws {
        let isServer = port.deviceOwner.hasPrefix("compute:")
        guard isServer || port.deviceOwner == "network:dhcp" else {
            throw DriverError.unsupported("\(port.deviceOwner.isEmpty ? "unowned" : port.deviceOwner) ports are not wired by the linux backend yet")
        }
        guard let plan = dhcp.plan(port.networkID) else { throw DriverError.transient("network \(port.networkID) of port \(port.id) is not wired yet") }
        if let uplink = try uplinks.device(plan), !Links.exists(uplink.device) {
            throw DriverError.transient("the uplink \(uplink.device) of network \(port.networkID) is not there")
        }
        let bridge = DeviceNames.bridge(network: port.networkID)
        // The bridge carries the network's MTU.
        guard let mtu = Links.mtu(bridge) else { throw DriverError.transient("network \(port.networkID) of port \(port.id) is not wired yet") }
        if isServer {
            // Filtered before its tap joins the bridge: no frame passes unfiltered.
            try await firewall.apply(port: port, tap: DeviceNames.tap(port: port.id))
            try await Links.tap(DeviceNames.tap(port: port.id), bridge: bridge, mtu: mtu, up: port.adminStateUp)
            try await dhcp.addHost(port)
            metadata?.learn(port)
            return
        }
        let namespace = Namespaces.dhcp(network: port.networkID)
        try await Namespaces.ensure(namespace)
        try await Links.veth(DeviceNames.tap(port: port.id), peer: DeviceNames.dhcpInterface(port: port.id), namespace: namespace,
                             bridge: bridge, mtu: mtu, mac: port.macAddress)
        try await addressDHCPInterface(port, plan)
        try await dhcp.recordPort(port)
        try await dhcp.converge(port.networkID)
        if let plan = dhcp.plan(port.networkID) { try await serveMetadata(plan) }
    }

    public func removePort(id: String) async throws {
        try await Links.delete(DeviceNames.tap(port: id))
        await firewall.remove(port: id, tap: DeviceNames.tap(port: id))
        try await dhcp.removeHost(portID: id)
        metadata?.forget(port: id)
        for network in dhcp.networks(withPort: id) { try await dhcp.converge(network) }
    }

    /// The networks and ports it recorded in its runtime folder: only its own, whatever else the
    /// host runs (another cloud's bridges are not its to remove).
    public func inventory() async throws -> DataPlaneInventory {
        var inventory = DataPlaneInventory()
        for network in dhcp.networkIDs() {
            inventory.networks.insert(network)
            inventory.ports.formUnion(dhcp.ports(network))
        }
        inventory.routers = Set((try? FileManager.default.contentsOfDirectory(atPath: routers)) ?? [])
        return inventory
    }

    /// Recorded first, so a router cut off half-built is found and removed if it is gone.
    public func apply(router: RouterPlan) async throws {
        try FileManager.default.createDirectory(atPath: routers, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(routers)/\(router.id)", contents: nil)
        try await RouterNamespace(id: router.id, network: dhcp.plan, advertiser: advertiser).apply(router)
        try await metadata?.serve(namespace: Namespaces.router(router.id), networks: router.interfaces.map(\.networkID))
    }

    public func removeRouter(id: String) async throws {
        await metadata?.stop(namespace: Namespaces.router(id))
        try await RouterNamespace(id: id, network: dhcp.plan, advertiser: advertiser).remove()
        try? FileManager.default.removeItem(atPath: "\(routers)/\(id)")
    }

    public func apply(securityGroup: SecurityGroupPlan) async throws {
        try await firewall.apply(group: securityGroup)
    }

    public func removeSecurityGroup(id: String) async throws {
        await firewall.remove(group: id)
    }
}
