import DriverKit
import Foundation
import Hummingbird
import Logging
import MartletCore
import MartletStore
import ServiceContracts
import ServiceLifecycle
import SQLKit

/// The Networking v2.0 API (Neutron) under `/network`, with the data plane behind `NetworkBackend`.
public final class NetworkService: APIService {
    public let pathPrefix = "network"
    public let catalogType = "network"
    public let catalogName = "neutron"
    public let faultFormat: any FaultFormat = NeutronFaults()
    public static let migrations = NetworkSchema.migrations

    let store: NetworkStore
    let settings: NetworkSettings
    let segments: Segments
    let quotas: NetworkQuotas
    public let backend: any NetworkBackend
    let dataPlane: DataPlane
    let publicURL: String
    let recorder = RouteRecorder()
    /// Servers' port allocations waiting to be committed together (see `PortAllocator`).
    let allocations = GroupCommit<PortAllocation, [String]>()

    public var routes: [RouteSpec] { recorder.all }
    /// The data plane's reconcile loop.
    public var backgroundServices: [any Service] { [dataPlane.queue] }

    static let kinds: [any ResourceKind] = [Networks(), Subnets(), Ports(), Routers(), FloatingIPs(), SecurityGroups(),
                                            SecurityGroupRules(), SubnetPools(), AddressScopes(), MeteringLabels(), MeteringLabelRules()]

    public init(database: Database, config: MartletConfig, backend: any NetworkBackend,
                logger: Logger = Logger(label: "martlet.network")) throws {
        store = NetworkStore(db: database)
        settings = try NetworkSettings(config)
        segments = Segments(settings: settings)
        quotas = NetworkQuotas(store: store)
        self.backend = backend
        dataPlane = DataPlane(store: store, backend: backend, logger: logger)
        publicURL = config.resolvedPublicURL
    }

    public func addRoutes(to group: RouterGroup<MartletContext>) {
        let router = PolicyRouter(group: group, policy: NetworkPolicy.table, recorder: recorder)
        DiscoveryRoutes(service: self).register(group, router)
        for kind in Self.kinds { ResourceRoutes(service: self, kind: kind).register(router) }
        RouterRoutes(service: self).register(router)
        AgentRoutes(service: self).register(router)
        L3AgentRoutes(service: self).register(router)
        DHCPAgentRoutes(service: self).register(router)
        QuotaRoutes(service: self).register(router)
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await store.db.read(body)
    }

    /// Runs one write transaction for the caller, then tells the data plane what changed.
    @discardableResult
    func change<T: Sendable>(_ call: APICall, _ body: (Change) async throws -> T) async throws -> T {
        try await change(caller: Caller(call.auth), body)
    }

    @discardableResult
    func change<T: Sendable>(caller: Caller, _ body: (Change) async throws -> T) async throws -> T {
        let (result, events) = try await store.db.transaction { db in try await changing(db, caller, body) }
        dataPlane.apply(events)
        return result
    }

    /// Runs `body` as one change of the caller's in the transaction `db`: what it returns and the
    /// data-plane events it noted. A clash with a concurrent change is Neutron's 409.
    func changing<T>(_ db: any SQLDatabase, _ caller: Caller, _ body: (Change) async throws -> T) async throws -> (T, [DataPlaneEvent]) {
        let change = Change(db: db, service: self, caller: caller)
        do {
            let result = try await body(change)
            return (result, change.touched)
        } catch where Database.isConcurrencyFailure(error) {
            throw StoreError.concurrentChange
        } catch where Database.isUniqueViolation(error) {
            // A duplicate is a clash too, but not one a retry is sure to get past.
            throw NetFault.conflict("The request conflicts with a concurrent change; retry it.", type: "Conflict")
        }
    }

    /// Waits until the data plane has applied every change so far (tests and benchmarks use it).
    public func settle() async { await dataPlane.queue.idle() }

    /// Records its hosts' agents as started, gives what needs an agent and has none one, removes
    /// from the data plane what the database no longer has, and queues every network, bound port
    /// and router for it (which `run` then brings up to date).
    public func converge() async throws {
        try await change(caller: Caller(isAdmin: true, projectID: "")) { change in
            try await Agents.register(hosts: backend.hosts, change)
            try await AgentScheduler.scheduleUnhosted(change)
            try await DHCPPorts.syncAll(change)
        }
        dataPlane.queue.enqueue(try await dataPlane.applier.resync())
    }
}
