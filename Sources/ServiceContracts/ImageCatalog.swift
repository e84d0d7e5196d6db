import MartletCore
import NIOCore

/// What Compute asks of Image, in process: the image a server boots from, and snapshots of servers.
public protocol ImageCatalog: Sendable {
    /// The image if the project may see it (admins see every image); nil otherwise.
    func bootImage(id: String, projectID: String?, isAdmin: Bool) async throws -> BootImage?
    /// Registers a `queued` image owned by `projectID`; its data comes later through `finishSnapshot`.
    func createSnapshot(name: String, projectID: String, properties: [String: String], minDisk: Int, minRam: Int,
                        diskFormat: String, containerFormat: String, visibility: String, protected: Bool) async throws -> BootImage
    /// Streams the snapshot's bytes into the store and makes it `active`; nothing is held whole in memory.
    /// `diskFormat` is the format the hypervisor made the snapshot in.
    func finishSnapshot(id: String, data: ByteChunks, diskFormat: String) async throws
    /// Streams an image's stored bytes (a hypervisor's image cache fetches them), nil when it has none.
    func imageData(id: String) async throws -> ByteChunks?
    /// The image's stored bytes as a file of this host, when the store keeps them as one; nil otherwise.
    func imageFile(id: String) async throws -> String?
    /// Removes an image (a snapshot whose server failed to produce it).
    func deleteImage(id: String) async throws
    /// Every image the project may see, newest first (Compute's `/images` proxy, before 2.36).
    func visibleImages(projectID: String?, isAdmin: Bool) async throws -> [BootImage]
    /// Replaces an image's custom properties with what `edit` makes of them; the image as it is then.
    func editProperties(id: String, _ edit: @Sendable ([String: String]) throws -> [String: String]) async throws -> BootImage?
}

extension ImageCatalog {
    /// A private, unprotected snapshot (a server's).
    public func createSnapshot(name: String, projectID: String, properties: [String: String], minDisk: Int, minRam: Int,
                               diskFormat: String, containerFormat: String) async throws -> BootImage {
        try await createSnapshot(name: name, projectID: projectID, properties: properties, minDisk: minDisk, minRam: minRam,
                                 diskFormat: diskFormat, containerFormat: containerFormat, visibility: "private", protected: false)
    }
}

/// An image as a hypervisor and the server's `image` field need it.
public struct BootImage: Sendable, Equatable {
    public var id: String
    public var name: String?
    public var status: String
    public var minDisk: Int
    public var minRam: Int
    public var size: Int64?
    public var diskFormat: String?
    public var containerFormat: String?
    public var properties: [String: String]
    public var owner: String?
    public var createdAt: Double
    public var updatedAt: Double
    /// MD5 of the data, hex (Glance's `checksum`), nil before it has data.
    public var checksum: String?

    public init(id: String, name: String?, status: String, minDisk: Int, minRam: Int, size: Int64?, diskFormat: String?,
                containerFormat: String?, properties: [String: String], owner: String?, createdAt: Double, updatedAt: Double,
                checksum: String? = nil) {
        self.id = id
        self.name = name
        self.status = status
        self.minDisk = minDisk
        self.minRam = minRam
        self.size = size
        self.diskFormat = diskFormat
        self.containerFormat = containerFormat
        self.properties = properties
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.checksum = checksum
    }
}

