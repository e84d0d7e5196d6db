import DriverKit
import Foundation
import Logging

/// Security groups and anti-spoofing in nftables (the rules are `FirewallRules`). Each port with
/// port security gets a number (1…65535) that marks its packets; each network a conntrack zone.
/// Both are kept in files under `<runtime>/firewall/`, with the plan each port was filtered by,
/// so a restart finds the same numbers and knows what a removed port had put in its groups' sets;
/// so are the stateless groups (a port whose groups all are is filtered without conntrack's help).
///
/// Every change is one `nft -f` transaction: the kernel applies it whole or not at all.
final class Firewall: @unchecked Sendable {
    let rules: FirewallRules
    let root: String
    let logger: Logger
    private let lock = NSLock()
    private var ports: [String: Record] = [:]
    private var zones: [String: Int] = [:]
    private var statelessGroups: Set<String> = []
    private var ready = false

    struct Record: Codable {
        var number: Int
        var plan: PortPlan
    }

    init(runtime: String, logger: Logger) {
        root = "\(runtime)/firewall"
        rules = FirewallRules(table: Nft.table(runtime: runtime))
        self.logger = logger
        for file in RuntimeFiles.names(in: "\(root)/ports") {
            if let data = FileManager.default.contents(atPath: "\(root)/ports/\(file)"), let record = try? JSONDecoder().decode(Record.self, from: data) {
                ports[record.plan.id] = record
            }
        }
        statelessGroups = Set(RuntimeFiles.names(in: "\(root)/stateless"))
        for file in RuntimeFiles.names(in: "\(root)/zones") {
            if let text = try? String(contentsOfFile: "\(root)/zones/\(file)", encoding: .utf8), let zone = Int(text) { zones[file] = zone }
        }
    }

    // MARK: Networks

    /// The network's bridge gets a conntrack zone of its own.
    func apply(network: String, bridge: String) async throws {
        let zone = try locked {
            if let zone = zones[network] { return zone }
            let zone = try Self.lowestFree(Set(zones.values))
            try RuntimeFiles.write(Data("\(zone)".utf8), to: "\(root)/zones/\(network)")
            zones[network] = zone
            return zone
        }
        try await run(rules.zone(bridge: bridge, zone))
    }

    func remove(network: String, bridge: String) async {
        guard locked({ zones[network] }) != nil else { return }
        await runEach(rules.removeZone(bridge: bridge))
        locked {
            zones[network] = nil
            try? FileManager.default.removeItem(atPath: "\(root)/zones/\(network)")
        }
    }

    // MARK: Security groups

    /// Its rules; when it turns stateless or stateful, its members' filters follow.
    func apply(group: SecurityGroupPlan) async throws {
        let changed = locked { statelessGroups.contains(group.id) == group.stateful }
        var lines = rules.group(group)
        if changed {
            let members = locked { ports.values.filter { $0.plan.securityGroupIDs.contains(group.id) } }
            lines += members.flatMap { rules.statefulness(number: $0.number, stateless: isStateless($0.plan, with: group)) }
        }
        try await run(lines)
        guard changed else { return }
        let marker = "\(root)/stateless/\(group.id)"
        try locked {
            if group.stateful {
                statelessGroups.remove(group.id)
                try? FileManager.default.removeItem(atPath: marker)
            } else {
                try RuntimeFiles.write(Data(), to: marker)
                statelessGroups.insert(group.id)
            }
        }
    }

    /// A port is filtered statelessly when every one of its groups is stateless (Neutron allows no mix).
    private func isStateless(_ plan: PortPlan, with changed: SecurityGroupPlan? = nil) -> Bool {
        locked {
            !plan.securityGroupIDs.isEmpty && plan.securityGroupIDs.allSatisfy { id in
                id == changed?.id ? !(changed?.stateful ?? true) : statelessGroups.contains(id)
            }
        }
    }

    /// Its rules and members go at once; its chains and sets when nothing refers to them any more
    /// (a port still naming it keeps them, empty: that port admits nothing through it).
    func remove(group: String) async {
        let lines = rules.removeGroup(group)
        await runEach(lines.flush)
        await runEach(lines.delete, quietly: true)
        locked {
            statelessGroups.remove(group)
            try? FileManager.default.removeItem(atPath: "\(root)/stateless/\(group)")
        }
    }

    // MARK: Ports

    /// Filters a server port by its plan, or lets everything through when it has no port security.
    func apply(port plan: PortPlan, tap: String) async throws {
        guard plan.portSecurityEnabled else { return await remove(port: plan.id, tap: tap) }
        let previous = locked { ports[plan.id] }
        let number = try previous?.number ?? locked { try Self.lowestFree(Set(ports.values.map(\.number))) }
        var lines = rules.port(plan, tap: tap, number: number) + rules.statefulness(number: number, stateless: isStateless(plan))
        if let previous { lines = leaving(previous.plan, for: plan) + lines }
        try await run(lines + prefixSets(previous?.plan, plan))
        let record = Record(number: number, plan: plan)
        try locked {
            try RuntimeFiles.write(try JSONEncoder().encode(record), to: "\(root)/ports/\(plan.id)")
            ports[plan.id] = record
        }
    }

    func remove(port id: String, tap: String) async {
        guard let record = locked({ ports[id] }) else { return }
        await runEach(leaving(record.plan, for: nil) + prefixSets(record.plan, nil) + rules.removePort(id, tap: tap, number: record.number)
                      + rules.statefulness(number: record.number, stateless: false))
        locked {
            ports[id] = nil
            try? FileManager.default.removeItem(atPath: "\(root)/ports/\(id)")
        }
    }

    /// The addresses `old` gave its groups' sets that `new` does not, and no other port gives.
    private func leaving(_ old: PortPlan, for new: PortPlan?) -> [String] {
        let kept = Dictionary(new.map { rules.members($0) } ?? [], uniquingKeysWith: +).mapValues(Set.init)
        return locked {
            rules.members(old).flatMap { group, addresses in
                let others = Set(ports.values.filter { $0.plan.id != old.id && $0.plan.securityGroupIDs.contains(group) }
                    .flatMap { rules.members($0.plan).first { $0.group == group }?.addresses ?? [] })
                let gone = addresses.filter { !(kept[group]?.contains($0) ?? false) && !others.contains($0) }
                return gone.isEmpty ? [] : rules.deleteElements(group: group, gone)
            }
        }
    }

    /// The prefix sets of the groups a port's address-pair prefixes were or will be in, rewritten
    /// with every member's: nothing when neither `old` nor `new` has any.
    private func prefixSets(_ old: PortPlan?, _ new: PortPlan?) -> [String] {
        let plans = [old, new].compactMap { $0 }
        guard plans.contains(where: { !FirewallRules.prefixes($0).isEmpty }) else { return [] }
        let id = plans[0].id
        let groups = Set(plans.flatMap(\.securityGroupIDs)).sorted()
        let others = locked { ports.values.map(\.plan).filter { $0.id != id } } + (new.map { [$0] } ?? [])
        return groups.flatMap { group in
            rules.replacePrefixes(group: group, others.filter { $0.securityGroupIDs.contains(group) }.flatMap(FirewallRules.prefixes))
        }
    }

    // MARK: nft

    /// One transaction, after the tables (made once per process, and again after a failure: someone
    /// may have flushed them, and the caller's retry then rebuilds).
    private func run(_ lines: [String]) async throws {
        let skeleton = locked { ready } ? [] : rules.skeleton
        do {
            try await Nft.run(skeleton + lines)
            locked { ready = true }
        } catch {
            locked { ready = false }
            throw error
        }
    }

    /// For removals: the whole at once, or each line alone when some of it is already gone.
    private func runEach(_ lines: [String], quietly: Bool = false) async {
        guard !lines.isEmpty, (try? await Nft.run(lines)) == nil else { return }
        for line in lines {
            do { try await Nft.run([line]) } catch where !quietly { logger.debug("nft", metadata: ["line": "\(line)", "error": "\(error)"]) } catch {}
        }
    }

    // MARK: Records

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static func lowestFree(_ used: Set<Int>) throws -> Int {
        guard let free = (1...0xffff).first(where: { !used.contains($0) }) else { throw DriverError.failed("more than 65535 filtered ports or networks on one host") }
        return free
    }
}
