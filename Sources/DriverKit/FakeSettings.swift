import MartletCore

// The fakes read their own settings (`fake_hosts`, `fake_host_*`, `fake_spawn_delay_ms`).
extension FakeHypervisor {
    public convenience init(config: MartletConfig) {
        self.init(hostCount: config.fakeHosts, vcpus: config.fakeHostVCPUs, memoryMB: config.fakeHostMemoryMB,
                  diskGB: config.fakeHostDiskGB, spawnDelay: .milliseconds(config.fakeSpawnDelayMS))
    }
}

extension FakeNetworkBackend {
    /// Wires the hosts the fake hypervisor simulates.
    public convenience init(config: MartletConfig) { self.init(hosts: FakeHypervisor.hostNames(count: config.fakeHosts)) }
}
