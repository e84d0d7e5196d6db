import DriverKit
import Foundation

/// How a provider network's bridge reaches its physical network, as Neutron's Linux bridge agent
/// does it with `physical_interface_mappings`: a `flat` network's bridge takes the mapped host
/// interface itself, a `vlan` network's bridge a VLAN device on it (`<interface>.<VLAN>`).
/// Tenant networks (`vxlan`, `local`) have no uplink on one host.
///
/// The mapped interface belongs to the cloud: an address of the host's on it stops working once
/// a flat network's bridge takes it.
struct Uplinks {
    /// Physical network → host interface.
    let mappings: [String: String]

    init(_ setting: String) {
        mappings = Dictionary(setting.split(separator: ",").compactMap { entry -> (String, String)? in
            let parts = entry.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty ? (parts[0], parts[1]) : nil
        }, uniquingKeysWith: { first, _ in first })
    }

    /// The mapped interface and the device the network's bridge takes; nil for a tenant network.
    func device(_ plan: NetworkPlan) throws -> (interface: String, device: String)? {
        switch plan.networkType {
        case "vxlan", "local":
            return nil
        case "flat", "vlan":
            guard let physnet = plan.physicalNetwork, let interface = mappings[physnet] else {
                throw DriverError.unsupported("no host interface is mapped to physical network \(plan.physicalNetwork ?? "(none)") (physical_interface_mappings)")
            }
            guard plan.networkType == "vlan" else { return (interface, interface) }
            guard let vlan = plan.segmentationID else { throw DriverError.failed("vlan network \(plan.id) has no segmentation ID") }
            // Device names are 15 bytes at most: `.4094` leaves 10 for the interface.
            return (interface, "\(interface.prefix(10)).\(vlan)")
        default:
            throw DriverError.unsupported("\(plan.networkType) networks are not wired by the linux backend")
        }
    }

    func attach(_ plan: NetworkPlan, bridge: String) async throws {
        guard let (interface, device) = try device(plan) else { return }
        guard Links.exists(interface) else { throw DriverError.transient("interface \(interface) of physical network \(plan.physicalNetwork ?? "") is not there") }
        if device != interface, !Links.exists(device) {
            try await HostCommand.run(["ip", "link", "add", "link", interface, "name", device, "type", "vlan", "id", "\(plan.segmentationID ?? 0)"],
                                      failure: { $0.contains("Unknown device type") ? Self.noVLANs : .transient($0) })
        }
        if device != interface { try await HostCommand.run(["ip", "link", "set", "dev", device, "mtu", "\(plan.mtu)"], failure: { .transient($0) }) }
        try await HostCommand.run(["ip", "link", "set", "dev", device, "master", bridge, "up"], failure: { .transient($0) })
        if device != interface { try await HostCommand.run(["ip", "link", "set", "dev", interface, "up"], failure: { .transient($0) }) }
    }

    static let noVLANs = DriverError.unsupported("this host's kernel has no 802.1Q VLAN devices (CONFIG_VLAN_8021Q)")

    /// A VLAN device goes; a flat network's interface leaves the bridge.
    func detach(_ plan: NetworkPlan) async {
        guard let (interface, device) = try? device(plan), Links.exists(device) else { return }
        let command = device == interface ? ["ip", "link", "set", "dev", device, "nomaster"] : ["ip", "link", "delete", "dev", device]
        _ = try? await HostCommand.output(command)
    }
}
