import DriverKit
import Foundation

/// A router as Neutron's L3 agent builds it: a `qrouter-<router>` namespace that forwards between
/// its legs, a `qr-` veth on each of its subnets' bridges and a `qg-` veth on the external
/// network's, with the router's addresses; the default route through the external subnet's
/// gateway, the extra routes, and in its own nftables table the NAT: each floating IP to its
/// fixed IP (and back), and the rest of the tenants' traffic out of the gateway address unless
/// `enable_snat` is false. IPv6 is routed, not translated; its legs' prefixes are advertised by
/// `RouterAdvertiser`.
///
/// Each apply makes the namespace match the plan: legs, addresses, routes and NAT that the plan
/// no longer has are removed. The leg's end on a bridge is named `rtr<port>`, not `tap<port>`:
/// the router's ports are not bound to a host, and the data plane removes an unbound port's tap.
struct RouterNamespace {
    let id: String
    /// The networks as last applied (their subnets give the prefixes and the gateway).
    let network: (String) -> NetworkPlan?
    let advertiser: RouterAdvertiser

    var name: String { Namespaces.router(id) }

    static func outside(_ port: String) -> String { "rtr" + port.prefix(11) }
    static func interface(_ port: String) -> String { "qr-" + port.prefix(11) }
    static func gateway(_ port: String) -> String { "qg-" + port.prefix(11) }

    func apply(_ plan: RouterPlan) async throws {
        try await Namespaces.ensure(name)
        try await HostCommand.run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"],
                                  failure: { .transient($0) })
        var legs: [String: [String]] = [:]
        var advertised: [RouterAdvertiser.Leg] = []
        for leg in plan.interfaces {
            let mtu = try await plug(port: leg.portID, inside: Self.interface(leg.portID), network: leg.networkID, mac: leg.macAddress)
            legs[Self.interface(leg.portID)] = leg.addresses
            advertised.append(.init(device: Self.interface(leg.portID), mtu: mtu, advertisements: leg.advertisements))
        }
        var defaultRoutes: [(destination: String, nexthop: String)] = []
        if let gateway = plan.gateway {
            guard let external = network(gateway.networkID) else { throw DriverError.transient("external network \(gateway.networkID) is not wired yet") }
            let device = Self.gateway(gateway.portID)
            try await plug(port: gateway.portID, inside: device, network: gateway.networkID, mac: gateway.macAddress)
            let subnets = external.subnets.compactMap { subnet in IPPrefix(subnet.cidr).map { (subnet, $0) } }
            legs[device] = gateway.addresses.compactMap { ip in subnets.first { $0.1.contains(ip) }.map { "\(ip)/\($0.1.length)" } }
                + plan.floatingIPs.map { "\($0.floatingIP)/32" }
            // One default route per family, through the external subnet the gateway has an address on.
            for ipv6 in [false, true] {
                let subnet = subnets.first { $0.1.isIPv6 == ipv6 && gateway.addresses.contains(where: $0.1.contains) }
                if let nexthop = subnet?.0.gatewayIP { defaultRoutes.append(("default", nexthop)) }
            }
        }
        for (device, addresses) in legs {
            try await Links.setAddresses(device, in: name, addresses)
            try await HostCommand.run(["ip", "-n", name, "link", "set", "dev", device, plan.adminStateUp ? "up" : "down"], failure: { .transient($0) })
        }
        for stale in try await Links.names(in: name) where (stale.hasPrefix("qr-") || stale.hasPrefix("qg-")) && legs[stale] == nil {
            try await HostCommand.run(["ip", "-n", name, "link", "delete", "dev", stale], failure: { .transient($0) })
        }
        try await advertiser.apply(router: id, namespace: name, legs: plan.adminStateUp ? advertised : [])
        // Its legs down, the kernel has dropped the routes through them; they come back with it.
        guard plan.adminStateUp else { return }
        try await routes(plan.routes.map { ($0.destination, $0.nexthop) } + defaultRoutes)
        try await Nft.run(nat(plan), namespace: name)
    }

    func remove() async throws {
        // Before the namespace: radvd would go on in it, unseen.
        await advertiser.stop(router: id)
        try await Namespaces.delete(name)
    }

    /// A veth from the network's bridge into the namespace, with the router port's MAC; the
    /// network's MTU.
    @discardableResult
    private func plug(port: String, inside: String, network: String, mac: String) async throws -> Int {
        let bridge = DeviceNames.bridge(network: network)
        guard let mtu = Links.mtu(bridge) else { throw DriverError.transient("network \(network) of router \(id) is not wired yet") }
        try await Links.veth(Self.outside(port), peer: inside, namespace: name, bridge: bridge, mtu: mtu, mac: mac)
        return mtu
    }

    /// The routes the router's plan gives (`ip route replace` is `proto boot`), IPv4 and IPv6,
    /// and no other.
    private func routes(_ wanted: [(destination: String, nexthop: String)]) async throws {
        var have: Set<String> = []
        for family in ["-4", "-6"] {
            let listed = try await HostCommand.run(["ip", "-n", name, family, "-o", "route", "show", "proto", "boot"], failure: { .transient($0) })
            for line in listed.split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.count >= 3, words[1] == "via" { have.insert("\(words[0]) \(words[2])") }
            }
        }
        let want = wanted.map { "\(IPPrefix.canonical($0.destination)) \(IPPrefix.canonical($0.nexthop))" }
        for route in have.subtracting(want) {
            let parts = route.split(separator: " ").map(String.init)
            _ = try? await HostCommand.run(["ip", "-n", name, Self.family(parts[1]), "route", "delete", parts[0], "via", parts[1]])
        }
        for route in wanted {
            try await HostCommand.run(["ip", "-n", name, Self.family(route.nexthop), "route", "replace", route.destination, "via", route.nexthop],
                                      failure: { .transient($0) })
        }
    }

    private static func family(_ address: String) -> String { address.contains(":") ? "-6" : "-4" }

    /// The router's NAT, rewritten whole in one transaction.
    func nat(_ plan: RouterPlan) -> [String] {
        var lines = ["add table ip router", "delete table ip router", "add table ip router",
                     "add chain ip router prerouting { type nat hook prerouting priority dstnat; policy accept; }",
                     "add chain ip router output { type nat hook output priority -100; policy accept; }",
                     "add chain ip router postrouting { type nat hook postrouting priority srcnat; policy accept; }"]
        guard let gateway = plan.gateway else { return lines }
        let out = "oifname \"\(Self.gateway(gateway.portID))\""
        for forward in plan.portForwardings {
            lines.append("add rule ip router prerouting ip daddr \(forward.floatingIP) \(forward.proto) dport \(forward.externalPort) dnat to \(forward.internalIP):\(forward.internalPort)")
        }
        for nat in plan.floatingIPs {
            lines.append("add rule ip router prerouting ip daddr \(nat.floatingIP) dnat to \(nat.fixedIP)")
            lines.append("add rule ip router output ip daddr \(nat.floatingIP) dnat to \(nat.fixedIP)")
            lines.append("add rule ip router postrouting ip saddr \(nat.fixedIP) \(out) snat to \(nat.floatingIP)")
        }
        if gateway.enableSNAT, let address = gateway.addresses.first(where: { IPv4Network.parse($0) != nil }) {
            let inside = plan.interfaces.flatMap(\.addresses).compactMap { IPv4Network($0) }.map { "\($0.address)/\($0.prefix)" }
            if !inside.isEmpty {
                lines.append("add rule ip router postrouting \(out) ip saddr { \(inside.joined(separator: ", ")) } snat to \(address)")
            }
        }
        return lines
    }
}
