import NIOCore

/// What Block Storage asks of Object Storage, in process: objects in a project's account
/// (`AUTH_<project>`), which is where volume backups are kept, as Cinder's Swift backup driver keeps them.
public protocol ProjectObjects: Sendable {
    /// Stores the bytes as the object, making the container when it is missing; the account's
    /// and container's quotas apply (`ProjectObjectsError.quotaExceeded`).
    func putObject(projectID: String, container: String, name: String, bytes: ByteBuffer) async throws
    /// A plain object's bytes when it holds exactly `size` of them; nil when there is no such
    /// object, it is another size (nothing larger is read into memory), or it is not plain data
    /// (a manifest or a symlink put in its place).
    func objectBytes(projectID: String, container: String, name: String, size: Int) async throws -> ByteBuffer?
    /// Removes the object; one already gone is no error.
    func deleteObject(projectID: String, container: String, name: String) async throws
}

public enum ProjectObjectsError: Error, Equatable, CustomStringConvertible {
    case quotaExceeded(container: String)

    public var description: String {
        switch self {
        case .quotaExceeded(let container): "the object store's quota leaves no room in container \(container)"
        }
    }
}
