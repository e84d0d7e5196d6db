/// Picks a host for a server: filters drop the hosts that cannot take it, weighers order the rest.
/// Pure: the caller reads the hosts and claims the result in one transaction.
struct Scheduler: Sendable {
    enum Weigher: String, Sendable { case spread, pack }
    let weigher: Weigher

    /// A host as the scheduler sees it, with what is already allocated on it.
    struct Host: Sendable, Equatable {
        var name: String
        var zone: String
        var enabled: Bool
        var up: Bool
        var architecture: String
        var vcpus: Int, usedVCPUs: Int, cpuRatio: Double
        var memoryMB: Int, usedMemoryMB: Int, ramRatio: Double
        var diskGB: Int, usedDiskGB: Int, diskRatio: Double

        var freeVCPUs: Double { Double(vcpus) * cpuRatio - Double(usedVCPUs) }
        var freeMemoryMB: Double { Double(memoryMB) * ramRatio - Double(usedMemoryMB) }
        var freeDiskGB: Double { Double(diskGB) * diskRatio - Double(usedDiskGB) }
    }

    struct Request: Sendable {
        var vcpus: Int
        var memoryMB: Int
        var diskGB: Int
        var zone: String?
        /// `zone:host` as an admin may ask.
        var forcedHost: String?
        var architecture: String?
        /// The server group's policy and the hosts its members are on.
        var groupPolicy: String?
        var groupHosts: [String]
        var maxServersPerHost: Int?
        var sameHost: Set<String>?
        var differentHost: Set<String>
        /// Hosts a move must leave (its source).
        var excluded: Set<String>
    }

    /// The hosts that pass every filter, best first; empty means "No valid host was found".
    func rank(_ hosts: [Host], for r: Request) -> [Host] {
        let passing = hosts.filter { h in
            h.enabled && h.up
                && (r.zone == nil || h.zone == r.zone)
                && (r.forcedHost == nil || h.name == r.forcedHost)
                && !r.excluded.contains(h.name)
                && h.freeVCPUs >= Double(r.vcpus) && h.freeMemoryMB >= Double(r.memoryMB) && h.freeDiskGB >= Double(r.diskGB)
                && (r.architecture == nil || r.architecture == h.architecture)
                && (r.sameHost == nil || r.sameHost!.contains(h.name))
                && !r.differentHost.contains(h.name)
                && groupAllows(h.name, r)
        }
        return passing.sorted { a, b in
            let (wa, wb) = (weight(a, r), weight(b, r))
            return wa != wb ? wa > wb : a.name < b.name
        }
    }

    private func groupAllows(_ host: String, _ r: Request) -> Bool {
        switch r.groupPolicy {
        case "affinity": return r.groupHosts.isEmpty || r.groupHosts.contains(host)
        case "anti-affinity":
            let here = r.groupHosts.filter { $0 == host }.count
            return here < (r.maxServersPerHost ?? 1)
        default: return true
        }
    }

    private func weight(_ h: Host, _ r: Request) -> Double {
        var w = weigher == .spread ? h.freeMemoryMB : -h.freeMemoryMB
        let members = Double(r.groupHosts.filter { $0 == h.name }.count)
        // Soft policies outweigh free memory: one member more or less decides.
        if r.groupPolicy == "soft-affinity" { w += members * 1e12 }
        if r.groupPolicy == "soft-anti-affinity" { w -= members * 1e12 }
        return w
    }
}
