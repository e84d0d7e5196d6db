import DriverKit
import Foundation

/// How a `vxlan` network's bridge reaches the same network on other hosts, as Neutron's Linux
/// bridge agent builds it: a VXLAN device `vxlan-<VNI>` on the bridge, sending from this host's
/// tunnel address (`vxlan_local_ip`), flooding broadcast and unknown frames to each peer host
/// (`vxlan_peers`, one forwarding entry each) and learning behind which peer the others' MACs are.
/// Without a tunnel address there is no device: on one host it would carry nothing.
///
/// The kernel's VXLAN socket listens on UDP 4789 on every address of the host and takes any frame
/// for a VNI it serves. So tunnel traffic from any address but the peers' is dropped on input, in
/// the backend's own nftables table `<table>_vxlan`: nobody who guesses a VNI reaches a tenant.
struct Tunnels {
    let localIP: String?
    let peers: [String]
    let table: String

    static let port = 4789

    /// The network's VXLAN device; nil when it has none.
    func device(_ plan: NetworkPlan) -> String? {
        guard plan.networkType == "vxlan", localIP != nil, let vni = plan.segmentationID else { return nil }
        return "vxlan-\(vni)"
    }

    func attach(_ plan: NetworkPlan, bridge: String) async throws {
        guard let device = device(plan), let localIP, let vni = plan.segmentationID else { return }
        if let other = peers.first(where: { $0.contains(":") != localIP.contains(":") }) {
            throw DriverError.unsupported("the vxlan peer \(other) is not of the same address family as vxlan_local_ip \(localIP)")
        }
        try await guardPort()
        if !Links.exists(device) {
            try await HostCommand.run(["ip", "link", "add", device, "type", "vxlan", "id", "\(vni)", "local", localIP, "dstport", "\(Self.port)"],
                                      failure: { .transient($0) })
        }
        try await HostCommand.run(["ip", "link", "set", "dev", device, "mtu", "\(plan.mtu)", "master", bridge, plan.adminStateUp ? "up" : "down"],
                                  failure: { .transient($0) })
        // Broadcast and unknown destinations go to every peer; the rest is learned.
        let listed = try await HostCommand.run(["bridge", "fdb", "show", "dev", device], failure: { .transient($0) })
        let flooded = Set(listed.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.first == "00:00:00:00:00:00", let at = words.firstIndex(of: "dst"), at + 1 < words.count else { return nil }
            return IPPrefix.canonical(String(words[at + 1]))
        })
        let wanted = Set(peers.map(IPPrefix.canonical))
        for peer in flooded.subtracting(wanted) {
            try await HostCommand.run(["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", device, "dst", peer], failure: { .transient($0) })
        }
        for peer in wanted.subtracting(flooded) {
            try await HostCommand.run(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", device, "dst", peer], failure: { .transient($0) })
        }
    }

    func detach(_ plan: NetworkPlan) async {
        guard let device = device(plan) else { return }
        try? await Links.delete(device)
    }

    /// Tunnel traffic is taken from the peers alone (rewritten whole: the peers may have changed).
    private func guardPort() async throws {
        guard let localIP else { return }
        let v6 = localIP.contains(":")
        let family = v6 ? "ip6" : "ip", type = v6 ? "ipv6_addr" : "ipv4_addr"
        let name = "\(table)_vxlan"
        try await Nft.run([
            "add table inet \(name)", "delete table inet \(name)", "add table inet \(name)",
            "add set inet \(name) peers { type \(type); }",
            "add chain inet \(name) input { type filter hook input priority filter; policy accept; }",
            "add rule inet \(name) input udp dport \(Self.port) \(family) saddr != @peers drop",
            // Tunnels over the other family have no peers at all.
            "add rule inet \(name) input udp dport \(Self.port) meta nfproto \(v6 ? "ipv4" : "ipv6") drop",
        ] + (peers.isEmpty ? [] : ["add element inet \(name) peers { \(peers.joined(separator: ", ")) }"]))
    }

    /// Its table goes when the backend stops being asked for tunnels (a test, a reconfigured host).
    func removeGuard() async {
        _ = try? await HostCommand.output(["nft", "delete", "table", "inet", "\(table)_vxlan"])
    }
}
