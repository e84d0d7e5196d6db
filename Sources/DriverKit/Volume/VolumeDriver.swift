import MartletCore

/// The driver that keeps volumes' bytes: `fake` in memory, `file` as qcow2 files (later LVM, RBD).
/// Every call is idempotent: creating a volume that exists with the same size, deleting one that
/// is gone, connecting one that is connected, succeed; so Block Storage can repeat any step.
public protocol VolumeDriver: Sendable {
    /// Whether guests on several servers may write one volume at once (Cinder's `multiattach`).
    var supportsMultiattach: Bool { get }
    /// Makes the volume from its source; the bytes of an image source are streamed in.
    func create(_ volume: VolumeSpec) async throws
    func delete(_ id: String) async throws
    /// Grows a volume; shrinking is refused with `DriverError.invalidInput`.
    func extend(_ id: String, sizeGB: Int) async throws
    func createSnapshot(_ snapshotID: String, of volumeID: String) async throws
    func deleteSnapshot(_ snapshotID: String) async throws
    /// Gives the volume back the bytes of its snapshot (of the same size); the snapshot stays.
    func revert(_ volumeID: String, to snapshotID: String) async throws
    /// Replaces the volume's bytes with a source's, an image's or a snapshot's (Cinder's re-image):
    /// the volume keeps its size, a larger source is refused, and a failure leaves the old bytes.
    func reimage(_ id: String, from source: VolumeSpec.Source) async throws
    /// Every volume the backend holds, under the name Cinder's `manage` refers to it by
    /// (`source-name`), whether Block Storage knows it or not (one it unmanaged, say).
    func backendVolumes() async throws -> [BackendVolume]
    /// Takes the backend's volume called `name` as volume `id` (Cinder's manage existing); a
    /// volume already taken as `id` is left as it is.
    func manage(_ name: String, as id: String) async throws
    /// Makes the volume reachable from `host` and says how a hypervisor there opens it.
    func connect(_ id: String, host: String) async throws -> VolumeConnection
    func disconnect(_ id: String, host: String) async throws
    /// The volume's bytes as a disk image of `format` (`raw`, `qcow2`, …: an Image service disk
    /// format), streamed, for an upload to the Image service.
    func read(_ id: String, format: String) async throws -> ByteChunks
    /// Replaces the volume's bytes with a raw disk image streamed in (a backup restored). The
    /// volume keeps its size: a shorter image leaves zeros after it, a longer one is refused.
    func write(_ id: String, raw: ByteChunks) async throws
    /// What the backend holds, for the scheduler and for `os-services`/pool stats.
    func capacity() async throws -> VolumeCapacity
}

/// A volume to make.
public struct VolumeSpec: Sendable, Codable, Equatable {
    public var id: String
    public var sizeGB: Int
    public var source: Source

    public enum Source: Sendable, Codable, Equatable {
        case blank
        /// A copy of another volume.
        case volume(String)
        /// A volume snapshot restored.
        case snapshot(String)
        /// An image's bytes, fetched from the driver's `ImageSource`.
        case image(String)
    }

    public init(id: String, sizeGB: Int, source: Source = .blank) {
        self.id = id
        self.sizeGB = sizeGB
        self.source = source
    }
}

/// How a host reaches a volume: Cinder's `connection_info` (`driver_volume_type` and its `data`).
public struct VolumeConnection: Sendable, Codable, Equatable {
    public var driverVolumeType: String
    public var data: [String: String]

    public init(driverVolumeType: String, data: [String: String]) {
        self.driverVolumeType = driverVolumeType
        self.data = data
    }
}

public struct VolumeCapacity: Sendable, Codable, Equatable {
    public var totalGB: Int
    public var freeGB: Int

    public init(totalGB: Int, freeGB: Int) {
        self.totalGB = totalGB
        self.freeGB = freeGB
    }
}

/// A volume as the backend holds it, for Cinder's manageable-volumes list.
public struct BackendVolume: Sendable, Equatable {
    /// The name `manage` takes (`source-name`).
    public var name: String
    /// The volume ID it is kept under.
    public var id: String
    public var sizeGB: Int

    public init(name: String, id: String, sizeGB: Int) {
        (self.name, self.id, self.sizeGB) = (name, id, sizeGB)
    }
}
