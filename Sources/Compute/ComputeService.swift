import DriverKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MartletCore
import MartletStore
import ServiceContracts
import ServiceLifecycle
import SQLKit
import Synchronization

/// The Compute v2.1 API (Nova) under `/compute`, with placement and the scheduler inside it and the
/// servers run by a `Hypervisor`.
public final class ComputeService: APIService {
    public let pathPrefix = "compute"
    public let catalogType = "compute"
    public let catalogName = "nova"
    /// Clients expect the versioned endpoint in the catalog, as DevStack registers it.
    public let catalogPath = "/compute/v2.1"
    public let faultFormat: any FaultFormat = WSGIFaults()
    public static let migrations = ComputeSchema.migrations
    /// Roles Nova's default policy names besides admin, member and reader.
    public static let roles = ["manager", "service"]
    /// The microversions served; `docs/compute-microversions.md` says what each one changes.
    public static let versions = MicroversionRange(service: "compute", minimum: Microversion(2, 1), maximum: Microversion(2, 96),
                                                   legacyHeader: "X-OpenStack-Nova-API-Version")

    let db: Database
    let servers: ServerStore
    let flavors = FlavorStore()
    let quotas = Quotas()
    let actions = InstanceActions()
    let placement: Placement
    let scheduler: Scheduler
    let hypervisor: any Hypervisor
    let ports: any PortAllocator
    /// Neutron's resources for the proxy APIs (`os-security-groups`, `os-networks`).
    let networks: any NetworkResources
    let images: any ImageCatalog
    /// Block Storage, when it is served: the volumes servers attach.
    let volumes: (any VolumeCatalog)?
    let conductor: Conductor
    let powerSync: PowerSync
    let consoles: ConsoleTokens
    /// The console proxy's base URL; nil when it is off.
    let consoleURL: String?
    /// Creates waiting to be admitted, builds waiting for a host, and steps waiting to record their
    /// outcome, each committed in batches.
    let creates = GroupCommit<ServerAdmission.CreateOrder, [Server]>()
    let placements = GroupCommit<String, Server>()
    let settlements = GroupCommit<Workflows.Settlement, Server>()
    let links: Links
    let metadataSecret: String?
    /// The most servers one create request makes, whatever the quota allows.
    let maxServersPerRequest: Int
    let enableInstancePassword: Bool
    let resumeGuestsOnHostBoot: Bool
    /// Seconds a boot waits for its ports to be wired (0: none), and whether it then fails.
    let vifPluggingTimeout: Int
    let vifPluggingIsFatal: Bool
    let logger: Logger
    let recorder = RouteRecorder()
    /// Nova's policy table with the operator's overrides.
    let policy: Policy

    public var routes: [RouteSpec] { recorder.all }

    public init(database: Database, config: MartletConfig, ports: any PortAllocator & NetworkResources, images: any ImageCatalog,
                hypervisor: any Hypervisor, volumes: (any VolumeCatalog)? = nil, policyOverrides: [String: PolicyRule] = [:],
                logger: Logger = Logger(label: "martlet.compute")) {
        db = database
        policy = ComputePolicy.table.overriding(policyOverrides)
        servers = ServerStore(db: database)
        placement = Placement(db: database)
        scheduler = Scheduler(weigher: Scheduler.Weigher(rawValue: config.schedulerWeigher) ?? .spread)
        self.hypervisor = hypervisor
        self.ports = ports
        networks = ports
        self.images = images
        self.volumes = volumes
        links = Links(base: config.resolvedPublicURL + "/compute")
        metadataSecret = config.metadataProxySecret
        consoles = ConsoleTokens(lifetime: TimeInterval(config.consoleTokenTTL))
        consoleURL = config.resolvedConsoleURL
        maxServersPerRequest = config.maxServersPerRequest
        enableInstancePassword = config.enableInstancePassword
        resumeGuestsOnHostBoot = config.resumeGuestsStateOnHostBoot
        vifPluggingTimeout = config.vifPluggingTimeout
        vifPluggingIsFatal = config.vifPluggingIsFatal
        self.logger = logger
        let owner = ServiceReference()
        conductor = Conductor(database: database, logger: logger, owner: owner)
        powerSync = PowerSync(database: database, logger: logger, interval: .seconds(config.powerSyncInterval), owner: owner)
        owner.set(self)
    }

    public func addRoutes(to group: RouterGroup<MartletContext>) {
        group.add(middleware: MicroversionMiddleware(Self.versions))
        group.add(middleware: ComputeRequestID())
        let router = PolicyRouter(group: group, policy: policy, recorder: recorder)
        VersionRoutes(service: self).register(group)
        FlavorRoutes(service: self).register(router)
        KeypairRoutes(service: self).register(router)
        ServerRoutes(service: self).register(router)
        ServerActionRoutes(service: self).register(router)
        ServerDetailRoutes(service: self).register(router)
        ServerGroupRoutes(service: self).register(router)
        QuotaRoutes(service: self).register(router)
        InfrastructureRoutes(service: self).register(router)
        HostRoutes(service: self).register(router)
        ImageProxyRoutes(service: self).register(router)
        NetworkProxyRoutes(service: self).register(router)
        FloatingIPProxyRoutes(service: self).register(router)
        ConsoleRoutes(service: self).register(router)
        VolumeAttachmentRoutes(service: self).register(router)
        VolumeProxyRoutes(service: self).register(router)
        SnapshotProxyRoutes(service: self).register(router)
    }

    public func addRootRoutes(to router: Router<MartletContext>) {
        MetadataRoutes(service: self).register(router)
    }

    /// Registers the hosts and adds the bootstrap flavors once; `resumeServers` then settles the servers.
    public func start() async throws {
        try await placement.register(hypervisor.hosts)
        try await db.transaction { db in
            if try await db.raw("SELECT COUNT(*) AS n FROM cmp_flavors").first()?.decode(column: "n", as: Int.self) == 0 {
                let now = Date().timeIntervalSince1970
                for var flavor in Flavor.defaults {
                    flavor.createdAt = now
                    try await flavors.insert(flavor, in: db)
                }
            }
        }
    }

    /// Resumes every unfinished build and task and re-spawns what the database says runs, several
    /// at a time, logging progress: after a restart every server ends settled. It runs while the
    /// API already answers (a request on a server not yet back brings it back itself). A guest
    /// the host still has but that no longer runs (its host rebooted) is started again only with
    /// `resume_guests_state_on_host_boot`; otherwise the power sync records it stopped.
    public func resumeServers(concurrency: Int = 16) async {
        let local = Set(hypervisor.hosts.map(\.name))
        let all: [Server]
        do {
            all = try await db.read { try await servers.list("host IS NOT NULL OR vm_state = 'building' OR task_state IS NOT NULL", limit: nil, in: $0) }
        } catch {
            logger.error("could not list the servers to resume", metadata: ["error": "\(error)"])
            return
        }
        var lost: [Server] = []
        for server in all {
            if server.vmState == .building || server.taskState != nil {
                conductor.converge(server.id)
            } else if let host = server.host, local.contains(host) {
                switch await hypervisor.powerState(server.id, host: host) {
                case nil: lost.append(server)
                case .shutdown?, .crashed?: if resumeGuestsOnHostBoot && server.vmState == .active { lost.append(server) }
                default: break
                }
            }
        }
        guard !lost.isEmpty else { return }
        logger.notice("re-spawning servers the hypervisor lost", metadata: ["servers": "\(lost.count)"])
        let started = ContinuousClock.now
        var done = 0, failed = 0
        await withTaskGroup(of: Bool.self) { group in
            var next = lost.makeIterator()
            func add() -> Bool {
                guard let server = next.next() else { return false }
                group.addTask { (try? await Workflows(service: self).respawn(server)) != nil }
                return true
            }
            for _ in 0..<concurrency where add() {}
            while let ok = await group.next() {
                done += 1
                if !ok { failed += 1 }
                if done % 100 == 0 { logger.info("re-spawning servers", metadata: ["done": "\(done)", "of": "\(lost.count)"]) }
                _ = add()
            }
        }
        logger.notice("servers re-spawned", metadata: ["done": "\(done - failed)", "failed": "\(failed)",
                                                       "seconds": "\((ContinuousClock.now - started).components.seconds)"])
    }

    /// The conductor's reconcile queue, run by the process (one leader per database).
    public var backgroundServices: [any Service] { [conductor.queue, powerSync.queue] }

    /// Removes what hosts have of servers the database no longer knows (a delete cut short by a
    /// crash, a server whose creation never committed).
    func removeLeftovers() async throws {
        // Hosts first: a server's row exists before it is spawned, so one spawned meanwhile is known.
        var had: [(host: String, ids: [String])] = []
        for host in hypervisor.hosts.map(\.name) { had.append((host, try await hypervisor.instances(host: host))) }
        guard had.contains(where: { !$0.ids.isEmpty }) else { return }
        let known = Set(try await db.read { db in
            try await db.raw("SELECT id FROM cmp_servers").all().map { try $0.decode(column: "id", as: String.self) }
        })
        for (host, ids) in had {
            for id in ids where !known.contains(id) {
                logger.warning("removing a server no longer in the database from its host", metadata: ["server": "\(id)", "host": "\(host)"])
                try await hypervisor.destroy(id, host: host)
            }
        }
    }

    /// Servers at rest on a host, whose power state the power sync compares with the host's.
    func settledServers() async throws -> [String] {
        try await db.read { db in
            try await db.raw("SELECT id FROM cmp_servers WHERE vm_state IN ('active', 'stopped') AND task_state IS NULL AND host IS NOT NULL").all()
                .map { try $0.decode(column: "id", as: String.self) }
        }
    }

    /// The servers with work left (a build or a task), for the conductor's periodic resync.
    func unfinishedServers() async throws -> [String] {
        try await db.read { db in
            try await db.raw("SELECT id FROM cmp_servers WHERE vm_state = 'building' OR task_state IS NOT NULL").all()
                .map { try $0.decode(column: "id", as: String.self) }
        }
    }

    /// Waits until the conductor has nothing left to do (tests and the benchmark use it).
    public func settle() async { await conductor.idle() }

    /// Admission of server requests, with what it needs of the service.
    var admission: ServerAdmission {
        ServerAdmission(db: db, servers: servers, actions: actions, placement: placement, quotas: quotas,
                        converge: { [conductor] id in conductor.converge(id) })
    }

    var architectures: [String: String] {
        Dictionary(hypervisor.hosts.map { ($0.name, $0.cpuArchitecture) }, uniquingKeysWith: { a, _ in a })
    }

    /// The server named by the path if the caller's project owns it or the caller is an admin (else 404),
    /// checked against the route's rule.
    func visibleServer(_ call: APICall, _ name: String = "server_id") async throws -> Server {
        let id = try call.param(name)
        guard let server = try await servers.get(id), call.isComputeAdmin || server.projectID == call.auth.projectID else {
            throw ComputeFault.serverNotFound(id)
        }
        try call.authorize(["project_id": server.projectID])
        return server
    }

    func version(_ call: APICall) -> Microversion { call.context.microversion ?? Self.versions.minimum }

    /// Since 2.75 a query parameter the API does not know is a 400, not ignored.
    func checkQuery(_ call: APICall, allowed: Set<String>) throws {
        guard version(call) >= Microversion(2, 75), let unknown = call.queryItems.keys.first(where: { !allowed.contains($0) }) else { return }
        throw APIError.badRequest("Invalid input for query parameters \(unknown). Additional properties are not allowed ('\(unknown)' was unexpected)")
    }
}

/// Nova names the request ID twice: `x-compute-request-id` as well as `x-openstack-request-id`.
struct ComputeRequestID: RouterMiddleware {
    typealias Context = MartletContext
    static let header = HTTPField.Name("x-compute-request-id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[Self.header] = context.requestID
            return response
        } catch var fault as APIError {
            fault.headers[Self.header] = context.requestID
            throw fault
        }
    }
}

/// The service as its own background loops (conductor, power sync) see it: weakly, since the
/// service owns them.
final class ServiceReference: Sendable {
    private let service = Mutex<Weak?>(nil)
    private struct Weak: @unchecked Sendable { weak var value: ComputeService? }

    func set(_ compute: ComputeService) { service.withLock { $0 = Weak(value: compute) } }
    var value: ComputeService? { service.withLock { $0?.value } }
}
