import DriverKit
import Foundation
import Logging

/// One dnsmasq per network, in the network's `qdhcp-` namespace on the interface of its DHCP port,
/// answering only the addresses the Networking service gave its ports (static ranges, a hosts
/// directory with one file per port). It serves no DNS and forwards nothing: a guest's query
/// never leaves the host through it.
///
/// dnsmasq reads a new port's files by itself (inotify). What it cannot take that way (a changed
/// or removed entry, the subnets' options) restarts it, leases kept: a SIGHUP would do, but
/// dnsmasq 2.90 (Debian 12's) aborts on a SIGHUP once it has leased an address to a host entry
/// that sets a tag ("free(): invalid pointer"), and every entry tags its port.
///
/// Its files are under `<runtime>/dhcp/<network>/`: `plan.json` (the network as last applied),
/// `port.json` (its DHCP port), `hosts/<port>`, `opts` (the subnets' options), `portopts/<port>`
/// (a port's `extra_dhcp_opts`), `leases`, `args` (the command line it runs with) and `dnsmasq.pid`.
/// dnsmasq drops to `nobody` and reads its hosts and options as that user: every folder on the
/// way is world-readable.
struct DHCPServer {
    let root: String
    let logger: Logger

    func folder(_ network: String) -> String { "\(root)/\(network)" }

    /// Records the network (its folder is also what says the backend built it) and its options;
    /// changed options stop a running dnsmasq (it does not reread them), and `converge` then
    /// starts or stops it to match.
    func record(_ plan: NetworkPlan) async throws {
        let folder = folder(plan.id)
        try RuntimeFiles.makeReadable("\(folder)/hosts")
        try RuntimeFiles.makeReadable("\(folder)/portopts")
        try RuntimeFiles.write(try JSONEncoder().encode(plan), to: "\(folder)/plan.json")
        if try RuntimeFiles.replace("\(folder)/opts", with: Data(options(plan, dhcpPort: dhcpPort(plan.id)).utf8)) { await stop(plan.id) }
    }

    /// The subnets whose guests reach the metadata service through the DHCP namespace: served
    /// ones no router has an interface on.
    static func isolated(_ plan: NetworkPlan) -> [SubnetPlan] { served(plan).filter { !$0.routed && !$0.cidr.contains(":") } }

    func plan(_ network: String) -> NetworkPlan? {
        (try? Data(contentsOf: URL(fileURLWithPath: "\(folder(network))/plan.json"))).flatMap { try? JSONDecoder().decode(NetworkPlan.self, from: $0) }
    }

    /// The DHCP-enabled IPv4 subnets and the IPv6 ones whose addresses or settings come from
    /// DHCPv6, which dnsmasq answers on. (On a SLAAC subnet a router's advertisements are all.)
    static func served(_ plan: NetworkPlan) -> [SubnetPlan] {
        plan.subnets.filter { $0.enableDHCP && (!$0.cidr.contains(":") || SubnetPlan.dhcpv6AddressModes.contains($0.ipv6AddressMode ?? "")) }
    }

    /// A server port's addresses as dnsmasq host entries (an IPv6 one in brackets, which DHCPv6
    /// hands to the client with the port's MAC on the link), tagged with the port so its
    /// `extra_dhcp_opts` reach it alone. Every address is written, served subnet or not (dnsmasq
    /// answers those in its ranges), so turning DHCP on needs no port rewritten; the file is
    /// written even when empty, since it also records the port as this backend's.
    func addHost(_ port: PortPlan) async throws {
        let tag = "set:port-\(port.id)"
        let entries = port.fixedIPs.filter { IPPrefix.bytes($0) != nil }.map { ip in
            let name = "host-" + ip.map { $0 == "." || $0 == ":" ? "-" : $0 }
            return "\(port.macAddress),\(tag),\(name),\(ip.contains(":") ? "[\(ip)]" : ip)\n"
        }
        let options = port.dhcpOptions.map { option in
            // An IPv4 option may be a bare number; a name, or any DHCPv6 option, says its space.
            let space = option.ipVersion == 6 ? "option6:" : option.name.allSatisfy(\.isNumber) ? "" : "option:"
            return "tag:port-\(port.id),\(space)\(option.name),\(option.value)\n"
        }
        let folder = folder(port.networkID)
        let rewroteHosts = try RuntimeFiles.replace("\(folder)/hosts/\(port.id)", with: Data(entries.joined().utf8))
        let rewroteOptions = try RuntimeFiles.replace("\(folder)/portopts/\(port.id)", with: Data(options.joined().utf8))
        // New files are read by themselves (a SIGHUP per new port grew dnsmasq to 70 MiB at 1,000 ports).
        if rewroteHosts || rewroteOptions { try await restart(port.networkID) }
    }

    func removeHost(portID: String) async throws {
        for network in networkIDs() {
            let path = "\(folder(network))/hosts/\(portID)"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: "\(folder(network))/portopts/\(portID)")
            try await restart(network)
        }
    }

    /// Records the network's DHCP port (its interface is the one dnsmasq answers on, its address
    /// the metadata route's next hop).
    func recordPort(_ port: PortPlan) async throws {
        try RuntimeFiles.makeReadable(folder(port.networkID))
        try RuntimeFiles.write(try JSONEncoder().encode(port), to: "\(folder(port.networkID))/port.json")
        if let plan = plan(port.networkID) { try await record(plan) }
    }

    func dhcpPort(_ network: String) -> PortPlan? {
        (try? Data(contentsOf: URL(fileURLWithPath: "\(folder(network))/port.json"))).flatMap { try? JSONDecoder().decode(PortPlan.self, from: $0) }
    }

    /// The networks it keeps files for.
    func networkIDs() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] }

    /// The ports a network's files name: its DHCP port and those with a hosts entry.
    func ports(_ network: String) -> [String] {
        let hosts = (try? FileManager.default.contentsOfDirectory(atPath: "\(folder(network))/hosts")) ?? []
        return hosts.filter { !$0.hasSuffix(".new") } + [dhcpPort(network)?.id].compactMap { $0 }
    }

    /// The networks whose DHCP port this is.
    func networks(withPort portID: String) -> [String] {
        networkIDs().filter { dhcpPort($0)?.id == portID }
    }

    /// dnsmasq runs while the network has a served subnet and its DHCP interface is in place.
    func converge(_ network: String) async throws {
        let namespace = Namespaces.dhcp(network: network)
        guard let plan = plan(network), !Self.served(plan).isEmpty,
              let port = dhcpPort(network)?.id,
              await Links.exists(DeviceNames.dhcpInterface(port: port), in: namespace) else { return await stop(network) }
        let args = arguments(plan, interface: DeviceNames.dhcpInterface(port: port))
        let argsFile = "\(folder(network))/args"
        if pid(network) != nil, (try? String(contentsOfFile: argsFile, encoding: .utf8)) == args.joined(separator: "\n") { return }
        await stop(network)
        try RuntimeFiles.write(Data(args.joined(separator: "\n").utf8), to: argsFile)
        // dnsmasq puts itself in the background once it listens; its pid file says where.
        try await HostCommand.run(["ip", "netns", "exec", namespace] + args, failure: { .transient($0) })
        logger.info("dnsmasq started", metadata: ["network": "\(network)", "pid": "\(pid(network).map(String.init) ?? "?")"])
    }

    /// Stops the network's dnsmasq and forgets its files.
    func remove(_ network: String) async {
        await stop(network)
        try? FileManager.default.removeItem(atPath: folder(network))
    }

    private func stop(_ network: String) async { await daemon(network).stop() }

    private func restart(_ network: String) async throws {
        guard pid(network) != nil else { return }
        await stop(network)
        try await converge(network)
    }

    func pid(_ network: String) -> pid_t? { daemon(network).pid }

    private func daemon(_ network: String) -> Daemon {
        Daemon(program: "dnsmasq", pidFile: "\(folder(network))/dnsmasq.pid", marker: folder(network))
    }

    func arguments(_ plan: NetworkPlan, interface: String) -> [String] {
        let folder = folder(plan.id)
        var args = ["dnsmasq", "--no-hosts", "--no-resolv", "--port=0", "--conf-file=/dev/null", "--bind-interfaces",
                    "--interface=\(interface)", "--except-interface=lo", "--dhcp-authoritative",
                    "--pid-file=\(folder)/dnsmasq.pid", "--dhcp-hostsdir=\(folder)/hosts", "--dhcp-optsfile=\(folder)/opts",
                    "--dhcp-optsdir=\(folder)/portopts",
                    "--dhcp-leasefile=\(folder)/leases"]
        for subnet in Self.served(plan) {
            if let network = IPv4Network(subnet.cidr) {
                args.append("--dhcp-range=set:\(Self.tag(subnet)),\(network.address),static,\(network.netmask),86400s")
            } else if let network = IPPrefix(subnet.cidr) {
                // DHCPv6: a stateful subnet's addresses from the hosts files; a stateless one's settings alone.
                args.append("--dhcp-range=set:\(Self.tag(subnet)),\(IPPrefix.canonical(subnet.cidr).split(separator: "/")[0]),static,\(network.length),86400s")
            }
        }
        return args
    }

    /// Per subnet: its gateway (none when it has none), name servers, routes and the MTU; on a
    /// subnet without a router, the route to the metadata service through the DHCP port.
    func options(_ plan: NetworkPlan, dhcpPort: PortPlan?) -> String {
        var lines: [String] = []
        for subnet in Self.served(plan) {
            let tag = "tag:\(Self.tag(subnet))"
            if subnet.cidr.contains(":") {
                // Routes and the MTU come with the router's advertisements.
                let servers = subnet.dnsNameservers.filter { $0.contains(":") }
                if !servers.isEmpty { lines.append("\(tag),option6:dns-server,\(servers.map { "[\($0)]" }.joined(separator: ","))") }
                continue
            }
            lines.append("\(tag),option:router\(subnet.gatewayIP.map { ",\($0)" } ?? "")")
            lines.append("\(tag),option:dns-server\(subnet.dnsNameservers.filter { !$0.contains(":") }.map { ",\($0)" }.joined())")
            var routes = subnet.hostRoutes.map { "\($0.destination),\($0.nexthop)" }
            if !subnet.routed, let network = IPv4Network(subnet.cidr), let own = dhcpPort?.fixedIPs.first(where: { network.contains($0) }) {
                routes.append("\(MetadataProxy.address)/32,\(own)")
            }
            if !routes.isEmpty {
                // With classless routes a client ignores the router option: the default route goes in too.
                if let gateway = subnet.gatewayIP { routes.append("0.0.0.0/0,\(gateway)") }
                lines.append("\(tag),option:classless-static-route,\(routes.joined(separator: ","))")
            }
            lines.append("\(tag),option:mtu,\(plan.mtu)")
        }
        return lines.map { $0 + "\n" }.joined()
    }

    static func tag(_ subnet: SubnetPlan) -> String { "subnet-\(subnet.id)" }
}
