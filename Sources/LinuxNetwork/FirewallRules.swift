import DriverKit

/// The nftables text of security groups and port filters (see `Firewall` for the layout). Pure:
/// each function turns a plan into the `nft -f` lines that make it so.
struct FirewallRules {
    /// One table per family, named for the backend's runtime folder: another cloud's are not touched.
    let table: String

    /// The tables, maps and base chains. `add` makes what is missing and keeps what is there.
    ///
    /// Bridge family (no conntrack on bridges in this kernel): anti-spoofing of what a port sends,
    /// and the port numbers put in the packet mark, its sender's in the low 16 bits, its
    /// receiver's in the high 16 bits. The bridge's `nf_call_iptables` then passes its IP traffic
    /// through the inet family, whose conntrack (one zone per network, so equal addresses on two
    /// networks never share a connection) makes the filters stateful: the sender's egress filter
    /// in one base chain and the receiver's ingress filter in the next, so an accept in the first
    /// does not skip the second. A port whose groups are stateless is in the `stateless_` sets:
    /// its filter is asked for every packet, a known connection's included.
    var skeleton: [String] {
        [
            "add table bridge \(table)",
            "add map bridge \(table) port_numbers { type ifname : mark; }",
            "add map bridge \(table) antispoofing { type ifname : verdict; }",
            "add map bridge \(table) receivers { type ifname : verdict; }",
            "add chain bridge \(table) prerouting { type filter hook prerouting priority -200; policy accept; }",
            "flush chain bridge \(table) prerouting",
            "add rule bridge \(table) prerouting iifname vmap @antispoofing",
            "add rule bridge \(table) prerouting meta mark set iifname map @port_numbers",
            "add chain bridge \(table) forward { type filter hook forward priority -200; policy accept; }",
            "flush chain bridge \(table) forward",
            "add rule bridge \(table) forward oifname vmap @receivers",
            "add table inet \(table)",
            "add map inet \(table) zones { typeof iifname : ct zone; }",
            "add map inet \(table) egress { type mark : verdict; }",
            "add map inet \(table) ingress { type mark : verdict; }",
            "add chain inet \(table) zone { type filter hook prerouting priority raw; policy accept; }",
            "flush chain inet \(table) zone",
            "add rule inet \(table) zone ct zone set iifname map @zones",
        ] + allowances + ["egress": (0, "0x0000ffff"), "ingress": (10, "0xffff0000")].sorted { $0.key < $1.key }.flatMap { name, hook in
            [
                "add set inet \(table) stateless_\(name) { type mark; }",
                "add chain inet \(table) \(name)_check { type filter hook forward priority \(hook.0); policy accept; }",
                "flush chain inet \(table) \(name)_check",
                "add rule inet \(table) \(name)_check meta mark and \(hook.1) @stateless_\(name) meta mark and \(hook.1) vmap @\(name)",
                "add rule inet \(table) \(name)_check ct state established,related accept",
                // Conntrack follows no neighbour discovery (it leaves it `invalid`): that goes on to
                // the ports' filters, which let it pass as Neutron's do.
                "add rule inet \(table) \(name)_check ct state invalid meta l4proto != ipv6-icmp drop",
                "add rule inet \(table) \(name)_check ct state invalid icmpv6 type != \(Self.neighbourDiscovery) drop",
                "add rule inet \(table) \(name)_check meta mark and \(hook.1) vmap @\(name)",
            ]
        }
    }

    /// The rules every port's chains jump to first: written once, not once a port (an anonymous
    /// set a port costs the kernel and `nft` a walk over every set of the table).
    private var allowances: [String] {
        [("egress", Self.egressAllowances), ("ingress", Self.ingressAllowances)].flatMap { (direction: String, rules: [String]) -> [String] in
            let chain = Self.allowancesChain(direction)
            return ["add chain inet \(table) \(chain)", "flush chain inet \(table) \(chain)"] + rules.map { "add rule inet \(table) \(chain) \($0)" }
        }
    }

    // MARK: Networks

    func zone(bridge: String, _ zone: Int) -> [String] {
        ["add element inet \(table) zones { \(Self.quoted(bridge)) : \(zone) }"]
    }

    func removeZone(bridge: String) -> [String] {
        ["delete element inet \(table) zones { \(Self.quoted(bridge)) }"]
    }

    // MARK: Security groups

    static func chain(_ group: String, _ direction: String) -> String { "sg_\(direction == "egress" ? "out" : "in")_\(group)" }
    static func set(_ group: String, v6: Bool) -> String { "sg_\(group)_\(v6 ? "v6" : "v4")" }
    /// The prefixes of the group's members' allowed address pairs (`10.0.0.0/24`): an interval set.
    static func prefixSet(_ group: String, v6: Bool) -> String { "sg_\(group)_\(v6 ? "v6" : "v4")_nets" }

    /// What a group's chains and address sets need to exist (empty), for a port or rule naming it.
    func groupExists(_ group: String) -> [String] {
        [
            "add chain inet \(table) \(Self.chain(group, "ingress"))",
            "add chain inet \(table) \(Self.chain(group, "egress"))",
            "add set inet \(table) \(Self.set(group, v6: false)) { type ipv4_addr; }",
            "add set inet \(table) \(Self.set(group, v6: true)) { type ipv6_addr; }",
            "add set inet \(table) \(Self.prefixSet(group, v6: false)) { type ipv4_addr; flags interval; }",
            "add set inet \(table) \(Self.prefixSet(group, v6: true)) { type ipv6_addr; flags interval; }",
        ]
    }

    /// The group's rules, rewritten: a change costs the group's rules, whatever its members.
    func group(_ plan: SecurityGroupPlan) -> [String] {
        var lines = groupExists(plan.id)
        for remote in Set(plan.rules.compactMap(\.remoteGroupID)).sorted() where remote != plan.id { lines += groupExists(remote) }
        for direction in ["ingress", "egress"] {
            let chain = Self.chain(plan.id, direction)
            lines.append("flush chain inet \(table) \(chain)")
            for rule in plan.rules where rule.direction == direction {
                lines += Self.matches(rule).map { "add rule inet \(table) \(chain) \($0) accept comment \(Self.quoted(rule.id))" }
            }
        }
        return lines
    }

    func removeGroup(_ group: String) -> (flush: [String], delete: [String]) {
        let chains = ["ingress", "egress"].map { Self.chain(group, $0) }
        let sets = [false, true].flatMap { [Self.set(group, v6: $0), Self.prefixSet(group, v6: $0)] }
        return (chains.map { "flush chain inet \(table) \($0)" } + sets.map { "flush set inet \(table) \($0)" },
                chains.map { "delete chain inet \(table) \($0)" } + sets.map { "delete set inet \(table) \($0)" })
    }

    /// A rule's matches, as Neutron's firewall drivers read it: the protocol by name or number, a
    /// port range (or an ICMP type and code), and the remote end as a prefix or a group: one match
    /// for its members' addresses and one for their address pairs' prefixes.
    static func matches(_ rule: SecurityGroupPlan.Rule) -> [String] {
        let v6 = rule.ethertype == "IPv6"
        guard let remote = rule.remoteGroupID else { return [match(rule, remoteSet: nil)] }
        return [set(remote, v6: v6), prefixSet(remote, v6: v6)].map { match(rule, remoteSet: $0) }
    }

    private static func match(_ rule: SecurityGroupPlan.Rule, remoteSet: String?) -> String {
        let v6 = rule.ethertype == "IPv6"
        var parts = ["meta nfproto \(v6 ? "ipv6" : "ipv4")"]
        let family = v6 ? "ip6" : "ip", end = rule.direction == "egress" ? "daddr" : "saddr"
        if let prefix = rule.remoteIPPrefix, !["0.0.0.0/0", "::/0"].contains(prefix) { parts.append("\(family) \(end) \(prefix)") }
        if let remoteSet { parts.append("\(family) \(end) @\(remoteSet)") }
        // Neutron reads `icmp` in an IPv6 rule as ICMPv6 (tempest writes its IPv6 ping rules so).
        if var proto = protocolNumber(rule.proto) {
            if v6, rule.proto == "icmp" { proto = 58 }
            parts.append("meta l4proto \(proto)")
            if proto == 1 || proto == 58 {
                let icmp = proto == 58 ? "icmpv6" : "icmp"
                if let type = rule.portRangeMin {
                    parts.append("\(icmp) type \(type)")
                    if let code = rule.portRangeMax { parts.append("\(icmp) code \(code)") }
                }
            } else if portProtocols.contains(proto), let low = rule.portRangeMin {
                let high = rule.portRangeMax ?? low
                parts.append("th dport \(low == high ? "\(low)" : "\(low)-\(high)")")
            }
        }
        return parts.joined(separator: " ")
    }

    /// tcp, udp, dccp, sctp, udplite: the protocols with ports.
    static let portProtocols: Set<Int> = [6, 17, 33, 132, 136]

    /// The IP protocol number of a rule's protocol (nil: any). Neutron's names, and numbers.
    static func protocolNumber(_ proto: String?) -> Int? {
        guard let proto, !proto.isEmpty, proto != "any" else { return nil }
        if let number = Int(proto) { return number }
        return protocolNames[proto.lowercased()]
    }

    static let protocolNames: [String: Int] = [
        "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "dccp": 33, "ipv6-encap": 41, "ipv6-route": 43,
        "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "ipv6-nonxt": 59,
        "ipv6-opts": 60, "ospf": 89, "vrrp": 112, "pgm": 113, "sctp": 132, "udplite": 136,
    ]

    // MARK: Ports

    static func egressChain(_ port: String) -> String { "out_\(port)" }
    static func ingressChain(_ port: String) -> String { "in_\(port)" }
    static func allowancesChain(_ direction: String) -> String { "port_\(direction)" }
    static func antispoofingChain(_ port: String) -> String { "spoof_\(port)" }
    static func receiverChain(_ port: String) -> String { "mark_\(port)" }

    /// A filtered port: what it may send (its addresses, then its groups' egress rules) and
    /// receive (its groups' ingress rules), numbered `number` in the packet mark.
    func port(_ plan: PortPlan, tap: String, number: Int) -> [String] {
        let id = plan.id, t = Self.quoted(tap)
        let spoof = Self.antispoofingChain(id), receiver = Self.receiverChain(id)
        let egress = Self.egressChain(id), ingress = Self.ingressChain(id)
        var lines: [String] = []
        for group in plan.securityGroupIDs { lines += groupExists(group) }
        lines += ["add chain bridge \(table) \(spoof)", "flush chain bridge \(table) \(spoof)"]
        lines += Self.antispoofing(plan).map { "add rule bridge \(table) \(spoof) \($0)" }
        lines += ["add chain bridge \(table) \(receiver)", "flush chain bridge \(table) \(receiver)",
                  "add rule bridge \(table) \(receiver) meta mark set meta mark or \(Self.hex(number << 16))"]
        lines += ["add chain inet \(table) \(egress)", "flush chain inet \(table) \(egress)"]
        lines += (["jump \(Self.allowancesChain("egress"))"] + plan.securityGroupIDs.map { "jump \(Self.chain($0, "egress"))" } + ["drop"])
            .map { "add rule inet \(table) \(egress) \($0)" }
        lines += ["add chain inet \(table) \(ingress)", "flush chain inet \(table) \(ingress)"]
        lines += (["jump \(Self.allowancesChain("ingress"))"] + plan.securityGroupIDs.map { "jump \(Self.chain($0, "ingress"))" } + ["drop"])
            .map { "add rule inet \(table) \(ingress) \($0)" }
        lines += [
            "add element bridge \(table) port_numbers { \(t) : \(Self.hex(number)) }",
            "add element bridge \(table) antispoofing { \(t) : jump \(spoof) }",
            "add element bridge \(table) receivers { \(t) : jump \(receiver) }",
            "add element inet \(table) egress { \(Self.hex(number)) : jump \(egress) }",
            "add element inet \(table) ingress { \(Self.hex(number << 16)) : jump \(ingress) }",
        ]
        for (group, addresses) in members(plan) { lines += addElements(group: group, addresses) }
        return lines
    }

    /// Puts the port numbered `number` in the stateless sets, or takes it out (an element is added
    /// before it is deleted, so either way the transaction holds whatever the sets had).
    func statefulness(number: Int, stateless: Bool) -> [String] {
        [("egress", number), ("ingress", number << 16)].flatMap { name, mark in
            let element = "element inet \(table) stateless_\(name) { \(Self.hex(mark)) }"
            return ["add " + element] + (stateless ? [] : ["delete " + element])
        }
    }

    /// Undoes `port`: its map entries first (they refer to its chains), then its chains.
    func removePort(_ id: String, tap: String, number: Int) -> [String] {
        let t = Self.quoted(tap)
        return [
            "delete element bridge \(table) port_numbers { \(t) }",
            "delete element bridge \(table) antispoofing { \(t) }",
            "delete element bridge \(table) receivers { \(t) }",
            "delete element inet \(table) egress { \(Self.hex(number)) }",
            "delete element inet \(table) ingress { \(Self.hex(number << 16)) }",
            "delete chain bridge \(table) \(Self.antispoofingChain(id))",
            "delete chain bridge \(table) \(Self.receiverChain(id))",
            "delete chain inet \(table) \(Self.egressChain(id))",
            "delete chain inet \(table) \(Self.ingressChain(id))",
        ]
    }

    /// The addresses a port gives each of its groups' sets (a `remote_group_id` rule admits them):
    /// its fixed IPs and its allowed address pairs that are single addresses.
    func members(_ plan: PortPlan) -> [(group: String, addresses: [String])] {
        let addresses = plan.fixedIPs + plan.allowedAddressPairs.map(\.ipAddress).compactMap { pair in
            let parts = pair.split(separator: "/")
            guard parts.count == 1 || ["32", "128"].contains(parts[1]) else { return nil }
            return String(parts[0])
        }
        return plan.securityGroupIDs.map { ($0, Array(Set(addresses)).sorted()) }
    }

    /// The port's allowed address pairs that are prefixes of more than one address.
    static func prefixes(_ plan: PortPlan) -> [IPPrefix] {
        plan.allowedAddressPairs.compactMap { pair in
            IPPrefix(pair.ipAddress).flatMap { $0.length < $0.bytes.count * 8 ? $0 : nil }
        }
    }

    /// The group's prefix sets made to hold `prefixes` (its members' all), rewritten: prefixes of
    /// address pairs are few, and an interval set takes no overlapping element to count.
    func replacePrefixes(group: String, _ prefixes: [IPPrefix]) -> [String] {
        [false, true].flatMap { v6 -> [String] in
            let name = Self.prefixSet(group, v6: v6)
            let some = IPPrefix.outermost(prefixes.filter { $0.isIPv6 == v6 }).map(\.network)
            return ["flush set inet \(table) \(name)"] + (some.isEmpty ? [] : ["add element inet \(table) \(name) { \(some.joined(separator: ", ")) }"])
        }
    }

    func addElements(group: String, _ addresses: [String]) -> [String] { elements("add", group: group, addresses) }
    func deleteElements(group: String, _ addresses: [String]) -> [String] { elements("delete", group: group, addresses) }

    private func elements(_ verb: String, group: String, _ addresses: [String]) -> [String] {
        [false, true].compactMap { v6 in
            let some = addresses.filter { $0.contains(":") == v6 }
            return some.isEmpty ? nil : "\(verb) element inet \(table) \(Self.set(group, v6: v6)) { \(some.joined(separator: ", ")) }"
        }
    }

    static let neighbourDiscovery = "{ nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect, "
        + "mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report }"

    /// What a port may send besides its groups' rules, and what it may not whatever they say, as
    /// Neutron's firewall drivers have it: DHCP and IPv6 neighbour discovery as a client, never
    /// as a DHCP server or a router.
    static let egressAllowances = [
        "meta l4proto udp udp sport 68 udp dport 67 accept",
        "meta l4proto udp udp sport 546 udp dport 547 accept",
        "meta l4proto udp udp sport { 67, 547 } drop",
        "icmpv6 type { nd-router-advert, nd-redirect } drop",
        "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report } accept",
    ]

    /// What a port may receive besides its groups' rules: DHCP answers and neighbour discovery.
    static let ingressAllowances = [
        "meta l4proto udp udp sport 67 udp dport 68 accept",
        "meta l4proto udp udp sport 547 udp dport 546 accept",
        "icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query } accept",
    ]

    /// A port sends only from its MAC and addresses (and its allowed address pairs'): ARP, IPv4
    /// and IPv6 from anything else is dropped before it reaches the bridge. An address being
    /// acquired (DHCP from 0.0.0.0, duplicate address detection from `::`) and its IPv6 link-local
    /// address pass.
    static func antispoofing(_ plan: PortPlan) -> [String] {
        let macs = Set([plan.macAddress] + plan.allowedAddressPairs.map { $0.macAddress.isEmpty ? plan.macAddress : $0.macAddress })
            .map { $0.lowercased() }.sorted()
        let all = plan.fixedIPs + plan.allowedAddressPairs.map(\.ipAddress)
        let v4 = all.filter { !$0.contains(":") }, v6 = all.filter { $0.contains(":") } + macs.compactMap(linkLocal)
        // One element is a comparison, several an anonymous set: most ports have one MAC.
        let mac = macs.count == 1 ? macs[0] : "{ \(macs.joined(separator: ", ")) }"
        // Each address a port may send from returns, the rest of its kind is dropped: a rule a
        // address rather than a set a port, which the kernel would name by walking every set.
        func only(_ proto: String, _ field: String, _ addresses: [String]) -> [String] {
            addresses.map { "meta protocol \(proto) \(field) \($0) return" } + ["meta protocol \(proto) drop"]
        }
        return ["ether saddr != \(mac) drop", "meta protocol arp arp saddr ether != \(mac) drop"]
            + only("arp", "arp saddr ip", ["0.0.0.0"] + v4)
            + ["meta protocol ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 return"] + only("ip", "ip saddr", v4)
            + only("ip6", "ip6 saddr", ["::"] + v6)
    }

    /// The EUI-64 link-local address of a MAC (`fe80::` with the universal bit flipped).
    static func linkLocal(_ mac: String) -> String? {
        let bytes = mac.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 6 else { return nil }
        let eui = [bytes[0] ^ 0x02, bytes[1], bytes[2], 0xff, 0xfe, bytes[3], bytes[4], bytes[5]]
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(eui[$0]) << 8 | UInt16(eui[$0 + 1]), radix: 16) }
        return "fe80::" + groups.joined(separator: ":")
    }

    static func hex(_ value: Int) -> String { "0x" + String(value, radix: 16) }
    static func quoted(_ text: String) -> String { "\"\(text)\"" }
}
