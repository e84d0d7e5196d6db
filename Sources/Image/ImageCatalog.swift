import Foundation
import MartletCore
import NIOCore
import ServiceContracts
import SQLKit

extension ImageService: ImageCatalog {
    public func bootImage(id: String, projectID: String?, isAdmin: Bool) async throws -> BootImage? {
        guard let image = try await repo.image(id) else { return nil }
        let membership = try await projectID.asyncFlatMap { try await repo.member(imageID: id, memberID: $0)?.status }
        let visible = isAdmin || image.visibility == "public" || image.visibility == "community"
            || (projectID != nil && image.owner == projectID) || (image.visibility == "shared" && membership == "accepted")
        return visible ? image.bootImage : nil
    }

    public func visibleImages(projectID: String?, isAdmin: Bool) async throws -> [BootImage] {
        try await repo.db.read { db in
            var condition: SQLQueryString = "1 = 1"
            if !isAdmin {
                let project = projectID ?? ""
                condition = """
                    (visibility IN ('public', 'community') OR owner = \(bind: project) OR (visibility = 'shared' AND id IN
                    (SELECT image_id FROM image_members WHERE member_id = \(bind: project) AND status = 'accepted')))
                    """
            }
            return try await repo.images(where: condition, order: [("created_at", false), ("id", false)], limit: 100_000, in: db).map(\.bootImage)
        }
    }

    public func editProperties(id: String, _ edit: @Sendable ([String: String]) throws -> [String: String]) async throws -> BootImage? {
        try await repo.db.transaction { db in
            guard var image = try await repo.image(id, in: db) else { return nil }
            let edited = try edit(image.properties)
            if let reserved = edited.keys.first(where: { ImageRecord.coreAttributes.contains($0) }) {
                throw APIError.badRequest("Attribute '\(reserved)' is reserved.")
            }
            image.properties = edited
            image.updatedAt = repo.now()
            try await repo.update(image, in: db)
            return image.bootImage
        }
    }

    public func createSnapshot(name: String, projectID: String, properties: [String: String], minDisk: Int, minRam: Int,
                               diskFormat: String, containerFormat: String, visibility: String, protected: Bool) async throws -> BootImage {
        let now = repo.now()
        let image = ImageRecord(
            id: Identifier.uuid(), name: name, status: "queued", visibility: visibility, owner: projectID,
            diskFormat: diskFormat, containerFormat: containerFormat, size: nil, virtualSize: nil, checksum: nil,
            osHashAlgo: nil, osHashValue: nil, minDisk: minDisk, minRam: minRam, protected: protected, osHidden: false,
            properties: properties, createdAt: now, updatedAt: now, tags: [])
        try await repo.db.transaction { db in try await repo.insert(image, in: db) }
        return image.bootImage
    }

    public func finishSnapshot(id: String, data chunks: ByteChunks, diskFormat: String) async throws {
        guard try await repo.db.transaction({ try await repo.transition(id, from: ["queued"], to: "saving", in: $0) }) else {
            throw APIError.conflict("Image \(id) is no longer waiting for its data.")
        }
        do {
            let digest = try await data.write(.image(id), from: chunks, limit: nil)
            try await finish(id, digest, status: "active", diskFormat: diskFormat)
        } catch {
            // A stream that broke leaves the image waiting for data again, not stuck in `saving`.
            _ = try? await repo.db.transaction { try await repo.transition(id, from: ["saving"], to: "queued", in: $0) }
            throw error
        }
    }

    public func imageData(id: String) async throws -> ByteChunks? {
        guard try await data.size(.image(id)) != nil else { return nil }
        return data.chunks(.image(id))
    }

    public func imageFile(id: String) async throws -> String? {
        guard try await data.size(.image(id)) != nil else { return nil }
        return data.localFile(.image(id))
    }

    public func deleteImage(id: String) async throws {
        try await repo.db.transaction { db in try await repo.delete(id, in: db) }
        try? await data.delete(.image(id))
    }
}

extension ImageRecord {
    var bootImage: BootImage {
        BootImage(id: id, name: name, status: status, minDisk: minDisk, minRam: minRam, size: size, diskFormat: diskFormat,
                  containerFormat: containerFormat, properties: properties, owner: owner, createdAt: createdAt, updatedAt: updatedAt,
                  checksum: checksum)
    }
}
