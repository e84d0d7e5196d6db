import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// Security groups against the kernel: each port's tap is a veth whose other end is in a network
/// namespace standing in for a guest, and what passes between them is tried with real packets
/// (ping, TCP). Inside the test stage's own namespace (`MARTLET_NETWORK_TESTS=1`).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .oneBackendAtATime)
struct SecurityGroupTests {
    static let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-sg-\(getpid())").path
    let backend = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime)

    static func rule(_ direction: String, _ proto: String? = nil, port: Int? = nil, prefix: String? = nil, group: String? = nil) -> SecurityGroupPlan.Rule {
        .init(id: UUID().uuidString.lowercased(), direction: direction, ethertype: "IPv4", proto: proto, portRangeMin: port,
              portRangeMax: port, remoteIPPrefix: prefix, remoteGroupID: group)
    }

    static func port(_ network: NetworkPlan, _ last: Int, groups: [String], security: Bool = true) -> PortPlan {
        PortPlan(id: UUID().uuidString.lowercased(), networkID: network.id, host: "net-test", macAddress: String(format: "fa:16:3e:00:91:%02x", last),
                 fixedIPs: ["10.91.0.\(last)"], adminStateUp: true, deviceOwner: "compute:nova", portSecurityEnabled: security,
                 securityGroupIDs: groups, allowedAddressPairs: [])
    }

    /// A stateless group admits only what its rules say, answers included: a port in one reaches
    /// another's TCP only once an ingress rule admits the answers, where a stateful group needs none.
    @Test func aStatelessGroupAdmitsOnlyWhatItsRulesSay() async throws {
        let network = NetworkPlan(id: UUID().uuidString.lowercased(), networkType: "local", physicalNetwork: nil, segmentationID: nil,
                                  mtu: 1500, adminStateUp: true, subnets: [])
        try await backend.apply(network: network)
        let groupID = UUID().uuidString.lowercased()
        var group = SecurityGroupPlan(id: groupID, stateful: false, rules: [Self.rule("egress"), Self.rule("ingress", "icmp")])
        try await backend.apply(securityGroup: group)
        let client = Self.port(network, 21, groups: [groupID]), server = Self.port(network, 22, groups: [], security: false)
        var guests: [Guest] = []
        var listener: Process?
        defer { if let listener { kill(listener.processIdentifier, SIGKILL) } }
        do {
            for port in [client, server] {
                guests.append(try await Guest.make(port))
                try await backend.apply(port: port)
            }
            let (c, s) = (guests[0], guests[1])
            listener = try s.listen()
            try await Task.sleep(for: .milliseconds(300))
            // The echo replies come in as ICMP, which a rule admits.
            #expect(await eventually { await c.pings(s) }, "ping with ICMP admitted both ways does not pass")
            // The server's SYN-ACK comes in as TCP, which no rule admits: the connection does not open.
            #expect(await !c.connects(to: s, port: 8080), "a stateless group admits a connection's answers without a rule")
            // Stateful, the answers of a connection it opened pass by themselves.
            group.stateful = true
            try await backend.apply(securityGroup: group)
            #expect(await eventually { await c.connects(to: s, port: 8080) }, "a stateful group refuses the answers of its own connection")
            // Stateless again, with the answers admitted by a rule.
            group.stateful = false
            group.rules.append(Self.rule("ingress", "tcp", port: nil, prefix: "10.91.0.22/32"))
            try await backend.apply(securityGroup: group)
            #expect(await eventually { await c.connects(to: s, port: 8080) }, "answers admitted by a rule do not pass")
        } catch {
            Issue.record(error)
        }
        for guest in guests { await guest.remove() }
        for port in [client, server] { try? await backend.removePort(id: port.id) }
        try? await backend.removeSecurityGroup(id: groupID)
        try? await backend.removeNetwork(id: network.id)
        await backend.dropTables()
        try? FileManager.default.removeItem(atPath: Self.runtime)
    }

    @Test func groupsDecideWhatReachesAPortAndNoPortSpeaksForAnother() async throws {
        let network = NetworkPlan(id: UUID().uuidString.lowercased(), networkType: "local", physicalNetwork: nil, segmentationID: nil,
                                  mtu: 1500, adminStateUp: true, subnets: [])
        try await backend.apply(network: network)
        let webID = UUID().uuidString.lowercased(), plainID = UUID().uuidString.lowercased()
        // "web": TCP 8080 from anywhere, ping from its own members; "plain": nothing in. Both send anything.
        var web = SecurityGroupPlan(id: webID, stateful: true, rules: [
            Self.rule("ingress", "tcp", port: 8080, prefix: "0.0.0.0/0"), Self.rule("ingress", "icmp", group: webID), Self.rule("egress"),
        ])
        let plain = SecurityGroupPlan(id: plainID, stateful: true, rules: [Self.rule("egress")])
        try await backend.apply(securityGroup: web)
        try await backend.apply(securityGroup: plain)
        let p1 = Self.port(network, 11, groups: [webID]), p2 = Self.port(network, 12, groups: [webID])
        var p3 = Self.port(network, 13, groups: [plainID])
        var guests: [Guest] = []
        var listener: Process?
        // SIGKILL: the test's threads block SIGTERM, which the child inherits.
        defer { if let listener { kill(listener.processIdentifier, SIGKILL) } }
        do {
            for port in [p1, p2, p3] {
                guests.append(try await Guest.make(port))
                try await backend.apply(port: port)
            }
            let (g1, g2, g3) = (guests[0], guests[1], guests[2])
            listener = try g1.listen()
            try await Task.sleep(for: .milliseconds(300))

            #expect(await eventually { await g2.pings(g1) }, "a member of web does not reach another by ping")
            #expect(await !g3.pings(g1), "ping from outside web passes")
            // The answer passes g3's filter, which admits nothing in, because the connection is known.
            #expect(await eventually { await g3.connects(to: g1, port: 8080) }, "TCP 8080, open to all, is closed")
            #expect(await !g3.connects(to: g1, port: 22), "TCP 22 passes with no rule for it")

            // A rule added: the group's chain is rewritten, its members are not touched.
            web.rules.append(Self.rule("ingress", "tcp", port: 22, prefix: "10.91.0.0/24"))
            try await backend.apply(securityGroup: web)
            #expect(await eventually { await g3.connects(to: g1, port: 22) }, "a new rule did not open TCP 22")

            // A port joining a group is admitted by its members' `remote_group_id` rules, and no longer once it leaves.
            p3.securityGroupIDs = [plainID, webID]
            try await backend.apply(port: p3)
            #expect(await eventually { await g3.pings(g1) }, "a new member of web does not reach the others by ping")
            p3.securityGroupIDs = [plainID]
            try await backend.apply(port: p3)
            #expect(await !g3.pings(g1), "a port that left web still reaches its members by ping")

            // An address pair that is a prefix joins the group's prefix set: from an address inside
            // it a member is admitted by `remote_group_id` rules, and a non-member (the same pair,
            // the same address, past anti-spoofing) is not. Overlapping prefixes of two members
            // are kept as the outer one, and the inner one stays when the outer goes.
            _ = try await HostCommand.run(["ip", "-n", g3.namespace, "addr", "add", "10.91.0.200/24", "dev", "eth0"])
            p3.allowedAddressPairs = [.init(ipAddress: "10.91.0.128/25", macAddress: "")]
            try await backend.apply(port: p3)
            #expect(await !g3.pings(g1, from: "10.91.0.200"), "a pair's prefix is admitted by a group it is not in")
            p3.securityGroupIDs = [plainID, webID]
            try await backend.apply(port: p3)
            #expect(await eventually { await g3.pings(g1, from: "10.91.0.200") }, "a member's pair prefix is not admitted by its group")
            var wide = p2
            wide.allowedAddressPairs = [.init(ipAddress: "10.91.0.5/24", macAddress: "")]
            try await backend.apply(port: wide)
            let nets = try await HostCommand.run(["nft", "list", "set", "inet", backend.firewall.rules.table, FirewallRules.prefixSet(webID, v6: false)])
            #expect(nets.contains("10.91.0.0/24") && !nets.contains("10.91.0.128/25"), "\(nets)")
            try await backend.apply(port: p2)
            #expect(await eventually { await g3.pings(g1, from: "10.91.0.200") }, "a member's prefix went with another's")
            p3.securityGroupIDs = [plainID]
            p3.allowedAddressPairs = []
            try await backend.apply(port: p3)
            #expect(await !g3.pings(g1, from: "10.91.0.200"), "a former member's pair prefix is still admitted")

            // A port in no group admits nothing, from members of its former group neither.
            var alone = p1
            alone.securityGroupIDs = []
            try await backend.apply(port: alone)
            #expect(await !g2.pings(g1), "a port in no group is reached by ping")
            try await backend.apply(port: p1)
            #expect(await eventually { await g2.pings(g1) }, "a port back in its group is not reached by ping")

            // Another's address is dropped before the bridge, whatever the groups allow.
            _ = try await HostCommand.run(["ip", "-n", g3.namespace, "addr", "add", "10.91.0.99/24", "dev", "eth0"])
            #expect(await !g3.connects(to: g1, port: 8080, from: "10.91.0.99"), "a port sent from an address it does not have")
            // Without port security it may (as Neutron has it).
            p3.portSecurityEnabled = false
            p3.securityGroupIDs = []
            try await backend.apply(port: p3)
            #expect(await eventually { await g3.connects(to: g1, port: 8080, from: "10.91.0.99") }, "a port without port security is filtered")

            // Someone deletes the tables: the resync's order (groups, then ports) rebuilds them.
            let table = backend.firewall.rules.table
            _ = try await HostCommand.run(["nft", "delete", "table", "inet", table])
            try? await backend.apply(securityGroup: web)  // the first call after may find the tables gone
            try await backend.apply(securityGroup: web)
            for port in [p1, p2] { try await backend.apply(port: port) }
            #expect(await eventually { await g2.pings(g1) }, "the rebuilt tables do not admit members")
            #expect(await !g3.connects(to: g1, port: 9999, from: "10.91.0.99"), "the rebuilt tables admit what no rule opens")

            // Removed: no chain of the ports or groups is left.
            for port in [p1, p2, p3] { try await backend.removePort(id: port.id) }
            try await backend.removeSecurityGroup(id: webID)
            try await backend.removeSecurityGroup(id: plainID)
            try await backend.removeNetwork(id: network.id)
            let left = try await HostCommand.run(["nft", "list", "table", "inet", table])
            for id in [p1.id, p2.id, webID, plainID] { #expect(!left.contains(id), "\(id) is left in \(left)") }
        } catch {
            Issue.record(error)
        }
        for guest in guests { await guest.remove() }
        await backend.dropTables()
        try? FileManager.default.removeItem(atPath: Self.runtime)
    }

    @Test func rulesReadAsNeutronWritesThem() {
        #expect(FirewallRules.matches(Self.rule("ingress", "tcp", port: 22, prefix: "10.0.0.0/8"))
            == ["meta nfproto ipv4 ip saddr 10.0.0.0/8 meta l4proto 6 th dport 22"])
        var icmp = Self.rule("egress", "icmp", port: 8, prefix: "0.0.0.0/0")
        icmp.portRangeMax = 0
        #expect(FirewallRules.matches(icmp) == ["meta nfproto ipv4 meta l4proto 1 icmp type 8 icmp code 0"])
        let v6 = SecurityGroupPlan.Rule(id: "r", direction: "egress", ethertype: "IPv6", proto: "udp", portRangeMin: 1000, portRangeMax: 2000,
                                        remoteIPPrefix: nil, remoteGroupID: "g")
        // A group's members are matched by their addresses, and by their address pairs' prefixes.
        #expect(FirewallRules.matches(v6) == ["meta nfproto ipv6 ip6 daddr @sg_g_v6 meta l4proto 17 th dport 1000-2000",
                                              "meta nfproto ipv6 ip6 daddr @sg_g_v6_nets meta l4proto 17 th dport 1000-2000"])
        #expect(FirewallRules.matches(Self.rule("ingress", "112")) == ["meta nfproto ipv4 meta l4proto 112"])
        // `icmp` in an IPv6 rule is ICMPv6, as Neutron reads it.
        let ping6 = SecurityGroupPlan.Rule(id: "r", direction: "ingress", ethertype: "IPv6", proto: "icmp", portRangeMin: 128, portRangeMax: nil,
                                           remoteIPPrefix: "::/0", remoteGroupID: nil)
        #expect(FirewallRules.matches(ping6) == ["meta nfproto ipv6 meta l4proto 58 icmpv6 type 128"])
        // Prefixes as an interval set takes them: host bits cleared, none inside another.
        let prefixes = ["10.0.0.5/24", "10.0.0.128/25", "10.1.0.0/16", "10.0.0.0/24", "2001:db8::1/64", "2001:db8::/48"].compactMap(IPPrefix.init)
        #expect(IPPrefix.outermost(prefixes).map(\.network) == ["10.0.0.0/24", "10.1.0.0/16", "2001:db8::/48"])
        #expect(FirewallRules.linkLocal("fa:16:3e:00:91:0b") == "fe80::f816:3eff:fe00:910b")
    }
}
