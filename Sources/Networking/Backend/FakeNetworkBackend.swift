import Synchronization

/// A data plane that only remembers what it was told: instant and deterministic, for CI and for
/// tests that check what the service asked of its data plane.
public final class FakeNetworkBackend: NetworkBackend {
    public struct State: Sendable {
        public var networks: [String: NetworkPlan] = [:]
        public var ports: [String: PortPlan] = [:]
        public var routers: [String: RouterPlan] = [:]
        public var securityGroups: [String: SecurityGroupPlan] = [:]
    }

    private let state = Mutex(State())
    public let hosts: [String]

    /// `hosts`: the hosts it pretends to wire, those the fake hypervisor simulates (`fake-1` …).
    public init(hosts: [String] = ["fake-1"]) { self.hosts = hosts }

    /// The names the fake hypervisor gives its `count` hosts, which Compute binds ports to.
    public static func hostNames(count: Int) -> [String] { (1...max(count, 1)).map { "fake-\($0)" } }

    public var snapshot: State { state.withLock { $0 } }

    public func vifType(host: String) -> String { "bridge" }
    public func apply(network: NetworkPlan) async throws { state.withLock { $0.networks[network.id] = network } }
    public func removeNetwork(id: String) async throws { _ = state.withLock { $0.networks.removeValue(forKey: id) } }
    public func apply(port: PortPlan) async throws { state.withLock { $0.ports[port.id] = port } }
    public func removePort(id: String) async throws { _ = state.withLock { $0.ports.removeValue(forKey: id) } }
    public func apply(router: RouterPlan) async throws { state.withLock { $0.routers[router.id] = router } }
    public func removeRouter(id: String) async throws { _ = state.withLock { $0.routers.removeValue(forKey: id) } }
    public func apply(securityGroup: SecurityGroupPlan) async throws {
        state.withLock { $0.securityGroups[securityGroup.id] = securityGroup }
    }
    public func removeSecurityGroup(id: String) async throws { _ = state.withLock { $0.securityGroups.removeValue(forKey: id) } }
}
