import Synchronization

/// A data plane that only remembers what it was told: instant and deterministic, for CI and for
/// tests that check what the service asked of its data plane.
public final class FakeNetworkBackend: NetworkBackend {
    public struct State: Sendable {
        public var networks: [String: NetworkPlan] = [:]
        public var ports: [String: PortPlan] = [:]
        public var routers: [String: RouterPlan] = [:]
        public var securityGroups: [String: SecurityGroupPlan] = [:]
        /// Calls that will fail before the next one succeeds (a host that breaks for a while).
        var failures = 0
    }

    private let state = Mutex(State())
    public let hosts: [String]

    public let servesDHCP: Bool

    /// `hosts`: the hosts it pretends to wire, those the fake hypervisor simulates (`fake-1` …).
    /// `servesDHCP`: whether it claims DHCP (off by default: the API then shows no DHCP ports, as
    /// before the data plane existed).
    public init(hosts: [String] = ["fake-1"], servesDHCP: Bool = false) {
        self.hosts = hosts
        self.servesDHCP = servesDHCP
    }

    public var snapshot: State { state.withLock { $0 } }

    /// Makes the next `count` calls fail with a transient error, as a host whose kernel refuses a
    /// change for a while would: the service must retry until the data plane converges.
    public func failNext(_ count: Int) { state.withLock { $0.failures = count } }

    public func vifType(host: String) -> String { "bridge" }
    public func apply(network: NetworkPlan) async throws { try change { $0.networks[network.id] = network } }
    public func removeNetwork(id: String) async throws { try change { $0.networks.removeValue(forKey: id) } }
    public func apply(port: PortPlan) async throws { try change { $0.ports[port.id] = port } }
    public func removePort(id: String) async throws { try change { $0.ports.removeValue(forKey: id) } }
    public func apply(router: RouterPlan) async throws { try change { $0.routers[router.id] = router } }
    public func removeRouter(id: String) async throws { try change { $0.routers.removeValue(forKey: id) } }
    public func apply(securityGroup: SecurityGroupPlan) async throws { try change { $0.securityGroups[securityGroup.id] = securityGroup } }
    public func removeSecurityGroup(id: String) async throws { try change { $0.securityGroups.removeValue(forKey: id) } }

    public func inventory() async throws -> DataPlaneInventory {
        state.withLock { DataPlaneInventory(networks: Set($0.networks.keys), ports: Set($0.ports.keys), routers: Set($0.routers.keys)) }
    }

    private func change(_ edit: (inout State) -> Void) throws {
        try state.withLock { s in
            if s.failures > 0 {
                s.failures -= 1
                throw DriverError.transient("the fake data plane was told to fail")
            }
            edit(&s)
        }
    }
}
