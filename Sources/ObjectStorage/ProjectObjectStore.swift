import MartletCore
import NIOCore
import ServiceContracts

/// Objects for other services (volume backups), written and read in process with the same
/// catalogue, files, quotas and versioning as the Swift API.
extension ObjectStorageService: ProjectObjects {
    public func putObject(projectID: String, container: String, name: String, bytes: ByteBuffer) async throws {
        let account = "AUTH_" + projectID
        if try await catalog.container(account, container) == nil { _ = try await catalog.putContainer(account, container) { _ in } }
        guard let record = try await catalog.container(account, container) else { throw ProjectObjectsError.quotaExceeded(container: container) }
        do {
            if let left = try await Quotas(catalog: catalog).bytesLeft(account, record, adding: Int64(bytes.readableBytes)),
               left < Int64(bytes.readableBytes) {
                throw ProjectObjectsError.quotaExceeded(container: container)
            }
        } catch let error as APIError where error.status == .contentTooLarge {
            throw ProjectObjectsError.quotaExceeded(container: container)
        }
        let written = try await blobs.write(bytes: Array(bytes.readableBytesView))
        let object = ObjectRecord(account: account, container: container, name: name, size: written.size, etag: written.md5,
                                  contentType: "application/octet-stream", modified: Micros.now(), deleteAt: nil,
                                  files: written.piece.map { [$0] } ?? [], manifest: nil, meta: [:])
        let outcome: ObjectCatalog.PutOutcome
        do {
            outcome = try await catalog.putObject(object, check: { container, old in try Quotas.checkCount(container, replacing: old) })
        } catch {
            await blobs.delete(object.files.map(\.file))
            throw (error as? APIError)?.status == .contentTooLarge ? ProjectObjectsError.quotaExceeded(container: container) : error
        }
        switch outcome {
        case .noContainer:
            // Deleted between the check and the write.
            await blobs.delete(object.files.map(\.file))
            throw ProjectObjectsError.quotaExceeded(container: container)
        case .stored(let replaced?):
            if try await !Versions(service: self).archive(replaced) { await blobs.delete(replaced.files.map(\.file)) }
        case .stored(nil):
            break
        }
    }

    public func objectBytes(projectID: String, container: String, name: String, size: Int) async throws -> ByteBuffer? {
        guard let object = try await catalog.object("AUTH_" + projectID, container, name), !object.isExpired, object.size == Int64(size),
              object.symlink == nil, object.manifest == nil, object.meta["x-object-manifest"] == nil, object.files.count <= 1 else { return nil }
        guard let piece = object.files.first else { return ByteBuffer() }
        return try await blobs.readAll(piece)
    }

    public func deleteObject(projectID: String, container: String, name: String) async throws {
        guard let old = try await catalog.deleteObject("AUTH_" + projectID, container, name) else { return }
        if try await !Versions(service: self).archive(old, deleted: true) { await blobs.delete(old.files.map(\.file)) }
    }
}
