import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MartletCore
import MartletStore
import ServiceContracts

/// The Object Storage v1 API (Swift) under `/object-store`, and S3 over the same data on a
/// listener of its own (`S3Server`). Accounts are `AUTH_<project_id>`.
public final class ObjectStorageService: APIService {
    public let pathPrefix = "object-store"
    public let catalogType = "object-store"
    public let catalogName = "swift"
    public let catalogPath = "/object-store/v1/AUTH_$(project_id)s"
    public let faultFormat: any FaultFormat = SwiftFaults()
    public static let migrations = ObjectSchema.migrations
    /// Roles the bootstrap makes: `ResellerAdmin` reaches every account and sets account quotas.
    public static let roles = [Access.resellerRole]

    let catalog: ObjectCatalog
    let blobs: BlobStore
    let credentials: any CredentialAuthority
    let accessRoles: AccessRoles
    let publicURL: String
    /// The S3 listener's host name, under which `<bucket>.<host>` names a bucket.
    let s3Host: String?
    let logger = Logger(label: "martlet.object-store")

    public init(database: Database, config: MartletConfig, credentials: any CredentialAuthority) throws {
        catalog = ObjectCatalog(db: database)
        blobs = try BlobStore(directory: config.dataURL.appendingPathComponent("objects", isDirectory: true))
        self.credentials = credentials
        accessRoles = AccessRoles(config)
        publicURL = config.resolvedPublicURL
        s3Host = config.resolvedS3URL.flatMap { URLComponents(string: $0)?.host }
    }

    public func addRoutes(to group: RouterGroup<MartletContext>) {
        let group = group.add(middleware: SwiftEdge())
        InfoRoutes(service: self).register(group)
        let api = SwiftAPI(service: self)
        for method in SwiftAPI.methods {
            group.on("v1/**", method: method) { request, context in try await api.handle(request, context) }
        }
    }

    public func addRootRoutes(to router: Router<MartletContext>) {
        // Clients (tempest among them) look for capabilities at the root of the endpoint's host.
        router.group("info").add(middleware: SwiftEdge()).get("") { _, _ in InfoRoutes.info() }
    }

    /// The S3 listener's router: the same objects, S3's addressing, signatures and XML.
    public func s3Router() -> Router<MartletContext> {
        S3Server(service: self, virtualHostSuffix: s3Host).router()
    }

    /// Makes the files and the catalogue agree after a crash: interrupted writes and files no
    /// row points at are removed; rows whose files are missing are counted for the log.
    public func recover() async throws -> (orphansRemoved: Int, missing: Int) {
        let stored = try await blobs.sweep()
        let referenced = try await catalog.referencedFiles()
        let orphans = stored.subtracting(referenced)
        await blobs.delete(Array(orphans))
        return (orphans.count, referenced.subtracting(stored).count)
    }

    /// Deletes expired objects now and then, for as long as the server runs.
    public func reapExpiredObjects() async {
        while !Task.isCancelled {
            if let files = try? await catalog.reapExpired() { await blobs.delete(files) }
            try? await Task.sleep(for: .seconds(10))
        }
    }
}
