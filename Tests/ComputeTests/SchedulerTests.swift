@testable import Compute
import Testing

@Suite struct SchedulerTests {
    func host(_ name: String, zone: String = "nova", usedMB: Int = 0, memoryMB: Int = 4096, vcpus: Int = 4, enabled: Bool = true) -> Scheduler.Host {
        Scheduler.Host(name: name, zone: zone, enabled: enabled, up: true, architecture: "x86_64",
                       vcpus: vcpus, usedVCPUs: 0, cpuRatio: 1, memoryMB: memoryMB, usedMemoryMB: usedMB, ramRatio: 1,
                       diskGB: 100, usedDiskGB: 0, diskRatio: 1)
    }

    func request(ram: Int = 512, vcpus: Int = 1) -> Scheduler.Request {
        Scheduler.Request(vcpus: vcpus, memoryMB: ram, diskGB: 1, zone: nil, forcedHost: nil, architecture: nil, groupPolicy: nil,
                          groupHosts: [], maxServersPerHost: nil, sameHost: nil, differentHost: [], excluded: [])
    }

    @Test func spreadPrefersTheEmptiestHostAndPackTheFullest() {
        let hosts = [host("a", usedMB: 1024), host("b", usedMB: 0), host("c", usedMB: 3000)]
        #expect(Scheduler(weigher: .spread).rank(hosts, for: request()).map(\.name) == ["b", "a", "c"])
        #expect(Scheduler(weigher: .pack).rank(hosts, for: request()).map(\.name) == ["c", "a", "b"])
    }

    @Test func filtersDropHostsThatCannotTakeTheServer() {
        let hosts = [host("full", usedMB: 4000), host("off", enabled: false), host("small", vcpus: 1), host("other", zone: "az2"), host("ok")]
        var r = request(ram: 512, vcpus: 2)
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).map(\.name) == ["ok", "other"], "a tie goes by name")
        r.zone = "nova"
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).map(\.name) == ["ok"])
        r.zone = nil
        r.excluded = ["ok"]
        r.differentHost = ["other"]
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).isEmpty)
    }

    @Test func serverGroupPoliciesDecide() {
        let hosts = [host("a"), host("b", usedMB: 2048)]
        var r = request()
        r.groupPolicy = "anti-affinity"
        r.groupHosts = ["a"]
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).map(\.name) == ["b"])
        r.groupHosts = ["a", "b"]
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).isEmpty, "no host left for a third member")
        r.maxServersPerHost = 2
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).map(\.name) == ["a", "b"])
        r.groupPolicy = "affinity"
        r.groupHosts = ["b"]
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).map(\.name) == ["b"])
        r.groupPolicy = "soft-anti-affinity"
        r.groupHosts = ["a", "a"]
        #expect(Scheduler(weigher: .spread).rank(hosts, for: r).map(\.name) == ["b", "a"], "soft policies only weigh")
    }
}
