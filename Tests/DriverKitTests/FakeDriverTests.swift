import DriverConformance
import DriverKit
import Testing

/// The fakes pass the same conformance suites a real driver must.
@Suite struct FakeDriverTests {
    static let fixture = HypervisorFixture(
        driver: FakeHypervisor(hostCount: 2, vcpus: 8, memoryMB: 8192, diskGB: 100), host: "fake-2",
        template: InstanceSpec(id: "", name: "conformance", host: "", vcpus: 1, memoryMB: 64, diskGB: 1, image: InstanceImage(id: "image")))

    @Test(arguments: HypervisorConformance.checks)
    func fakeHypervisor(_ check: ConformanceCheck<HypervisorFixture>) async throws { try await check.run(Self.fixture) }

    @Test(arguments: NetworkBackendConformance.checks)
    func fakeNetworkBackend(_ check: ConformanceCheck<any NetworkBackend>) async throws { try await check.run(FakeNetworkBackend()) }

    @Test(arguments: VolumeDriverConformance.checks)
    func fakeVolumeDriver(_ check: ConformanceCheck<any VolumeDriver>) async throws { try await check.run(FakeVolumeDriver()) }

    @Test func aHostTheFakeDoesNotRunIsRefused() async throws {
        var spec = Self.fixture.template
        spec.id = "elsewhere"
        spec.host = "fake-9"
        await #expect(throws: DriverError.unknownHost("fake-9")) { try await Self.fixture.driver.spawn(spec) }
    }

    @Test func theFakeBackendFailsWhenToldAndThenRecovers() async throws {
        let backend = FakeNetworkBackend()
        backend.failNext(2)
        let network = NetworkPlan(id: "n", networkType: "local", physicalNetwork: nil, segmentationID: nil, mtu: 1500, adminStateUp: true, subnets: [])
        for _ in 0..<2 { await #expect(throws: DriverError.self) { try await backend.apply(network: network) } }
        try await backend.apply(network: network)
        #expect(backend.snapshot.networks["n"] == network)
    }
}
