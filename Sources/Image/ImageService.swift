import Foundation
import Hummingbird
import Logging
import MartletCore
import MartletStore

/// The Image v2 API (Glance) under `/image`, with image data in an `ImageDataStore`.
public final class ImageService: APIService {
    public let pathPrefix = "image"
    public let catalogType = "image"
    public let catalogName = "glance"
    public let faultFormat: any FaultFormat = GlanceFaults()
    public static let migrations = ImageSchema.migrations

    let repo: ImageRepository
    let data: any ImageDataStore
    let quotas: Quotas
    let recorder = RouteRecorder()
    let publicURL: String

    /// Per-project limits; nil is unlimited.
    struct Quotas: Sendable {
        var images: Int?
        var bytes: Int64?
    }

    public var routes: [RouteSpec] { recorder.all }

    public init(database: Database, config: MartletConfig, dataStore: (any ImageDataStore)? = nil) throws {
        repo = ImageRepository(db: database)
        publicURL = config.resolvedPublicURL
        data = try dataStore ?? FileImageDataStore(directory: config.dataURL.appendingPathComponent("images", isDirectory: true))
        quotas = Quotas(images: config.imageCountQuota >= 0 ? config.imageCountQuota : nil,
                        bytes: config.imageSizeQuota >= 0 ? config.imageSizeQuota : nil)
    }

    public func addRoutes(to group: RouterGroup<MartletContext>) {
        let router = PolicyRouter(group: group, policy: ImagePolicy.table, recorder: recorder)
        DiscoveryRoutes(service: self).register(group, router)
        ImageRoutes(service: self).register(router)
        ImageDataRoutes(service: self).register(router)
        MemberRoutes(service: self).register(router)
        MetadefRoutes(service: self).register(router)
    }

    /// Makes the database and the stored data agree after a crash: uploads cut off mid-way go back
    /// to `queued`, data without an image is removed. Returns what it did, for the log.
    @discardableResult
    public func recover() async throws -> (requeued: Int, orphansRemoved: Int) {
        let statuses = try await repo.statuses()
        var requeued = 0
        for (id, status) in statuses where ["saving", "importing"].contains(status) {
            let back = status == "saving" ? "queued" : "uploading"
            if try await repo.db.transaction({ try await repo.transition(id, from: [status], to: back, in: $0) }) { requeued += 1 }
            if status == "saving" { try? await data.delete(.image(id)) }
        }
        var removed = 0
        for key in try await data.sweep() {
            let keep: Bool
            switch key {
            case .image(let id): keep = ["active", "deactivated"].contains(statuses[id] ?? "")
            case .staging(let id): keep = ["uploading", "importing"].contains(statuses[id] ?? "")
            }
            if !keep { try await data.delete(key); removed += 1 }
        }
        return (requeued, removed)
    }

    /// The image named by the path if the caller may see it (else 404), checked against the route's rule.
    func visibleImage(_ call: APICall) async throws -> (ImageRecord, membership: String?) {
        let id = try call.param("image_id")
        let access = ImageAccess(auth: call.auth)
        guard let image = try await repo.image(id) else { throw Self.notFound(id) }
        let member = try await access.project.asyncFlatMap { try await repo.member(imageID: id, memberID: $0)?.status }
        guard access.canSee(image, membership: member) else { throw Self.notFound(id) }
        try call.authorize(["owner": image.owner ?? ""])
        return (image, member)
    }

    /// Records the data's size and hashes and activates the image; data of an image deleted meanwhile is dropped.
    func finish(_ id: String, _ digest: ImageDigest, status: String, diskFormat: String? = nil) async throws {
        let stillThere = try await repo.db.transaction { db -> Bool in
            guard var image = try await repo.image(id, in: db) else { return false }
            if let diskFormat { image.diskFormat = diskFormat }
            image.size = digest.size
            image.virtualSize = nil
            image.checksum = digest.md5
            image.osHashAlgo = "sha512"
            image.osHashValue = digest.sha512
            image.status = status
            image.updatedAt = repo.now()
            try await repo.update(image, in: db)
            return true
        }
        if !stillThere {
            try? await data.delete(.image(id))
            throw ImageService.notFound(id)
        }
    }

    static func notFound(_ id: String) -> APIError { .notFound("No image found with ID \(id)") }
}
