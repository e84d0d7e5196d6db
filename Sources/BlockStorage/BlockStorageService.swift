import Crypto
import DriverKit
import Foundation
import Hummingbird
import Logging
import MartletCore
import MartletStore
import ServiceContracts

/// The Block Storage v3 API (Cinder) under `/volume`, with volumes' bytes kept by a `VolumeDriver`.
public final class BlockStorageService: APIService {
    public let pathPrefix = "volume"
    public let catalogType = "block-storage"
    public let catalogName = "cinder"
    public let catalogPath = "/volume/v3"
    /// Older clients and tempest look the service up as `volumev3`: the same endpoint under that type.
    public static let aliasCatalogType = (type: "volumev3", name: "cinderv3")
    public let faultFormat: any FaultFormat = WSGIFaults()
    public static let migrations = BlockStorageSchema.migrations
    /// The microversions served; `docs/block-storage-microversions.md` says what each one changes.
    public static let versions = MicroversionRange(service: "volume", minimum: Microversion(3, 0), maximum: Microversion(3, 71))
    /// The one availability zone volumes live in, as Cinder's default.
    static let zone = "nova"
    /// The host name the volume driver is reported under (`os-vol-host-attr:host`, services, pools).
    let backendHost: String
    /// Compute, told when an attached volume grows; set by whoever wires the services together.
    public let serverEvents = ServerVolumeEventsReference()
    /// The volume service's ID (3.48's `service_uuid`), the same for the same host and driver.
    let volumeServiceUUID: String

    static func serviceUUID(host: String) -> String {
        var d = Array(SHA256.hash(data: Array("cinder-volume \(host)".utf8)).prefix(16))
        (d[6], d[8]) = ((d[6] & 0x0F) | 0x50, (d[8] & 0x3F) | 0x80)  // a name-based UUID's version and variant
        let hex = d.hex
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { r in
            String(hex.dropFirst(r.lowerBound).prefix(r.count))
        }.joined(separator: "-")
    }
    /// This machine, as Cinder's scheduler service is named, and its volume service (`node@driver`).
    var nodeName: String { ProcessInfo.processInfo.hostName }
    var volumeServiceHost: String { "\(nodeName)@\(backendName)" }
    /// The driver's name, as Cinder's `volume_backend_name`.
    let backendName: String
    /// What the backend offers; a volume type's extra specs must match it.
    let capabilities: BackendCapabilities

    let db: Database
    let store: BlockStorageStore
    let driver: any VolumeDriver
    let images: any ImageCatalog
    /// Where backups are kept: projects' accounts in the object store.
    let objects: any ProjectObjects
    /// Identity, asked whether a project exists before it is given a default type.
    let projects: any ProjectDirectory
    let quotas = VolumeQuotas()
    let work: VolumeWork
    let logger: Logger
    let recorder = RouteRecorder()
    let publicURL: String

    public var routes: [RouteSpec] { recorder.all }

    public init(database: Database, config: MartletConfig, driver: any VolumeDriver, images: any ImageCatalog,
                objects: any ProjectObjects, projects: any ProjectDirectory, logger: Logger = Logger(label: "martlet.block-storage")) {
        db = database
        store = BlockStorageStore(db: database)
        self.driver = driver
        self.images = images
        self.objects = objects
        self.projects = projects
        self.logger = logger
        publicURL = config.resolvedPublicURL
        backendName = config.volumeDriver
        capabilities = BackendCapabilities(backendName: config.volumeDriver, multiattach: driver.supportsMultiattach)
        backendHost = "\(ProcessInfo.processInfo.hostName)@\(config.volumeDriver)#\(config.volumeDriver)"
        volumeServiceUUID = Self.serviceUUID(host: backendHost)
        work = VolumeWork(store: store, driver: driver, images: images, backups: BackupEngine(driver: driver, objects: objects),
                          servers: serverEvents, logger: logger)
    }

    public func addRoutes(to group: RouterGroup<MartletContext>) {
        group.add(middleware: MicroversionMiddleware(Self.versions))
        let router = PolicyRouter(group: group, policy: BlockStoragePolicy.table, recorder: recorder)
        VersionRoutes(service: self).register(router)
        VolumeRoutes(service: self).register(router)
        VolumeActionRoutes(service: self).register(router)
        AttachmentRoutes(service: self).register(router)
        SnapshotRoutes(service: self).register(router)
        TypeRoutes(service: self).register(router)
        DefaultTypeRoutes(service: self).register(router)
        TypeEncryptionRoutes(service: self).register(router)
        ManageRoutes(service: self).register(router)
        QuotaRoutes(service: self).register(router)
        InfoRoutes(service: self).register(router)
        ServiceRoutes(service: self).register(router)
        QoSRoutes(service: self).register(router)
        TransferRoutes(service: self).register(router)
        BackupRoutes(service: self).register(router)
        MessageRoutes(service: self).register(router)
        GroupTypeRoutes(service: self).register(router)
        GroupRoutes(service: self).register(router)
        GroupSnapshotRoutes(service: self).register(router)
    }

    /// Makes the default volume type and this host's services once, then settles what a crash left half done.
    public func start() async throws {
        try await db.transaction { db in
            let known = try await store.services(in: db)
            for (binary, host) in [("cinder-scheduler", nodeName), ("cinder-volume", volumeServiceHost), ("cinder-backup", nodeName)]
            where !known.contains(where: { $0.binary == binary && $0.host == host }) {
                try await store.save(ServiceState(binary: binary, host: host, updatedAt: BlockStorageStore.now()), in: db)
            }
            if try await store.groupTypes(in: db).allSatisfy({ $0.name != GroupType.defaultName }) {
                try await store.save(GroupType(id: Identifier.uuid(), name: GroupType.defaultName, description: "Default group type",
                                               createdAt: BlockStorageStore.now()), in: db)
            }
            if try await store.type(named: VolumeType.defaultName, in: db) == nil {
                try await store.save(VolumeType(id: Identifier.uuid(), name: VolumeType.defaultName, description: "Default Volume Type",
                                                createdAt: BlockStorageStore.now()), in: db)
            }
        }
        try await work.recover()
    }

    /// Waits for the driver work started so far (tests and a clean shutdown).
    public func settle() async { await work.settle() }

    // MARK: Lookups shared by the routes

    /// The volume named by the path if the caller's project owns it (admins: any), else 404.
    func visibleVolume(_ call: APICall, _ id: String? = nil) async throws -> Volume {
        let id = try id ?? call.param("volume_id")
        guard let volume = try await store.volume(id), call.canSee(projectID: volume.projectID) else { throw BlockStorageFault.volumeNotFound(id) }
        try call.authorize(["project_id": volume.projectID])
        return volume
    }

    func visibleSnapshot(_ call: APICall) async throws -> Snapshot {
        let id = try call.param("snapshot_id")
        guard let snapshot = try await store.snapshot(id), call.canSee(projectID: snapshot.projectID) else { throw BlockStorageFault.snapshotNotFound(id) }
        try call.authorize(["project_id": snapshot.projectID])
        return snapshot
    }

    func link(_ kind: String, _ id: String) -> JSON {
        [["rel": "self", "href": .string("\(publicURL)/volume/v3/\(kind)/\(id)")],
         ["rel": "bookmark", "href": .string("\(publicURL)/volume/\(kind)/\(id)")]]
    }
}

extension APICall {
    var isAdmin: Bool { auth.hasRole("admin") }

    /// Admins see every project's resources; others their own project's.
    func canSee(projectID: String) -> Bool { isAdmin || auth.projectID == projectID }

    var requestedVersion: Microversion { context.microversion ?? BlockStorageService.versions.minimum }

    /// Refuses a route that a later microversion brought, as Cinder does (404).
    func require(_ major: Int, _ minor: Int) throws {
        guard requestedVersion >= Microversion(major, minor) else {
            throw APIError.notFound("API version \(requestedVersion) is not supported on this method.")
        }
    }
}
