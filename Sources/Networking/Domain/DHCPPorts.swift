import DriverKit
import MartletCore
import SQLKit

/// Neutron's DHCP agent keeps one port on each network with DHCP, owned `network:dhcp`, with an
/// address on every DHCP-enabled IPv4 subnet and every IPv6 one served by DHCPv6, which its
/// dnsmasq answers from. Martlet makes that
/// port itself, bound to the data plane's host, when its backend serves DHCP.
enum DHCPPorts {
    static let owner = "network:dhcp"

    /// Brings the network's DHCP port in line with its subnets: made, readdressed or removed.
    /// `pending` is a subnet changed in this transaction but not stored yet.
    static func sync(network networkID: String, _ change: Change, pending: Doc? = nil) async throws {
        let backend = change.service.backend
        guard backend.servesDHCP, let host = backend.hosts.first,
              let network = try await change.get(ResourceTable.networks, networkID) else { return }
        let subnets = try await change.rows(ResourceTable.subnets, "network_id = \(bind: networkID)")
            .map { $0["id"] == pending?["id"] ? pending ?? $0 : $0 }
            .filter { $0["enable_dhcp"] == true && ($0["ip_version"]?.intValue == 4 || Self.isDHCPv6($0)) }
            .compactMap { $0["id"]?.stringValue }.sorted()
        let existing = try await change.rows(ResourceTable.ports, "network_id = \(bind: networkID) AND device_owner = \(bind: owner)")
        let wanted = Set(subnets)
        var keep: Doc?
        for port in existing {
            let on = Set((port["fixed_ips"]?.array ?? []).compactMap { $0["subnet_id"]?.stringValue })
            if keep == nil, !wanted.isEmpty, on == wanted { keep = port } else { try await Ports.remove(port, change) }
        }
        guard keep == nil, !subnets.isEmpty else { return }
        var port = try await Ports.createServicePort(
            network: networkID, owner: owner, deviceID: "dhcp-\(host)-\(networkID)", project: network["project_id"]?.stringValue ?? "",
            requests: subnets.map { IPAM.Request(subnetID: $0) }, change)
        Ports.bind(&port, host: host, profile: [:], backend: backend)
        try await change.update(ResourceTable.ports, port)
    }

    /// An IPv6 subnet whose addresses or settings come from DHCPv6 (SLAAC ones need no server).
    static func isDHCPv6(_ subnet: Doc) -> Bool {
        SubnetPlan.dhcpv6AddressModes.contains(subnet["ipv6_address_mode"]?.stringValue ?? "")
    }

    /// Every network's, after a start (the backend may have changed since the last run).
    static func syncAll(_ change: Change) async throws {
        for network in try await change.rows(ResourceTable.networks, "1 = 1") {
            try await sync(network: network["id"]?.stringValue ?? "", change)
        }
    }
}
