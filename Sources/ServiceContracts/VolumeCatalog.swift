import DriverKit

/// What Compute asks of Block Storage, in process: the volumes a server boots from or attaches,
/// reserved, connected to its host and released, as Nova asks Cinder's attachments API.
public protocol VolumeCatalog: Sendable {
    /// The volume if the project may use it; nil otherwise.
    func volume(id: String, projectID: String) async throws -> VolumeSummary?
    /// The project's volumes, oldest first (Compute's `os-volumes` proxy).
    func volumes(projectID: String) async throws -> [VolumeSummary]
    /// Marks an `available` volume `reserved` for the server; a volume in use is a conflict.
    func reserve(volumeID: String, for server: ServerRef) async throws
    /// Connects a reserved volume to the server's host and marks it `in-use` at `device`.
    func attach(volumeID: String, to server: ServerRef, host: String, device: String) async throws -> VolumeConnection
    /// Disconnects it from the host and makes it `available` again (a reservation that never attached too).
    func detach(volumeID: String, from server: ServerRef) async throws
    /// Makes a volume for a server's block device mapping (blank, or from an image or a snapshot),
    /// with the project's quota checked; it is `creating` until the driver is done. Its ID.
    func createVolume(projectID: String, userID: String, sizeGB: Int?, source: VolumeSpec.Source, name: String, description: String?,
                      metadata: [String: String]) async throws -> String
    /// Snapshots one of the project's volumes (an in-use one only with `force`: an image of a
    /// volume-backed server), with the project's snapshot quota checked; it is `creating` until
    /// the driver is done. Its ID.
    func snapshotVolume(id: String, projectID: String, userID: String, name: String?, description: String?, force: Bool) async throws -> String
    /// The project's snapshots, oldest first, and one of them (Compute's `os-snapshots` proxy).
    func snapshots(projectID: String) async throws -> [SnapshotSummary]
    func snapshot(id: String, projectID: String) async throws -> SnapshotSummary?
    /// Deletes one of the project's snapshots, if it is `available` or in `error`.
    func deleteSnapshot(id: String, projectID: String) async throws
    /// Deletes a detached volume (a server's, `delete_on_termination`).
    func deleteVolume(id: String) async throws
    /// Writes an image over a volume attached to the server, whose guest is gone meanwhile (Nova's
    /// rebuild of a volume-backed server, through Cinder's re-image); returns once it is written.
    func reimageVolume(id: String, imageID: String, for server: ServerRef) async throws
}

/// A volume snapshot as Compute's `os-snapshots` proxy shows it.
public struct SnapshotSummary: Sendable, Equatable, Codable {
    public var id: String
    public var volumeID: String
    public var status: String
    public var sizeGB: Int
    public var createdAt: Double
    public var name: String?
    public var description: String?

    public init(id: String, volumeID: String, status: String, sizeGB: Int, createdAt: Double, name: String?, description: String?) {
        (self.id, self.volumeID, self.status, self.sizeGB, self.createdAt, self.name, self.description) =
            (id, volumeID, status, sizeGB, createdAt, name, description)
    }
}

/// A volume as Compute checks it before an attach and shows it in its `os-volumes` proxy.
public struct VolumeSummary: Sendable, Equatable, Codable {
    public var id: String
    public var status: String
    public var sizeGB: Int
    public var bootable: Bool
    public var multiattach: Bool
    public var name: String?
    public var description: String?
    public var availabilityZone = "nova"
    public var createdAt: Double = 0
    public var typeName: String?
    public var snapshotID: String?
    /// The image its bytes came from (`volume_image_metadata`'s `image_id`).
    public var imageID: String?
    public var metadata: [String: String] = [:]
    /// The servers it is attached to, and as which device.
    public var attachments: [Attachment] = []

    public struct Attachment: Sendable, Equatable, Codable {
        public var serverID: String
        public var device: String?
        public init(serverID: String, device: String?) {
            self.serverID = serverID
            self.device = device
        }
    }

    public init(id: String, status: String, sizeGB: Int, bootable: Bool, multiattach: Bool) {
        self.id = id
        self.status = status
        self.sizeGB = sizeGB
        self.bootable = bootable
        self.multiattach = multiattach
    }
}
