import MartletCore
import Synchronization

/// Volumes as sizes in memory: instant and deterministic, for CI and for tests that check what
/// Block Storage asked of its driver.
public final class FakeVolumeDriver: VolumeDriver {
    struct Volume {
        var sizeGB: Int
        var hosts: Set<String> = []
        /// Where the bytes came from, so a copy can be told from its source.
        var origin: String
        /// Bytes a restore wrote, read back as they were.
        var written: [UInt8]?
    }
    private struct State {
        var volumes: [String: Volume] = [:]
        var snapshots: [String: Volume] = [:]
    }
    private let state = Mutex(State())
    public let totalGB: Int
    public var supportsMultiattach: Bool { true }

    public init(totalGB: Int = 10_000) { self.totalGB = totalGB }

    public func create(_ volume: VolumeSpec) async throws {
        guard volume.sizeGB > 0 else { throw DriverError.invalidInput("a volume needs a size of at least 1 GiB") }
        try state.withLock { s in
            if let existing = s.volumes[volume.id] {
                guard existing.sizeGB == volume.sizeGB else { throw DriverError.invalidState("volume \(volume.id) exists with another size") }
                return
            }
            let used = s.volumes.values.reduce(0) { $0 + $1.sizeGB }
            guard used + volume.sizeGB <= totalGB else { throw DriverError.invalidInput("the backend has \(totalGB - used) GiB free") }
            let origin: String
            var written: [UInt8]?
            switch volume.source {
            case .blank: origin = "blank"
            case .image(let id): origin = "image \(id)"
            case .volume(let id):
                guard let source = s.volumes[id] else { throw DriverError.notFound("volume \(id)") }
                guard source.sizeGB <= volume.sizeGB else { throw DriverError.invalidInput("a copy cannot be smaller than its source") }
                origin = "volume \(id)"
                written = source.written
            case .snapshot(let id):
                guard let source = s.snapshots[id] else { throw DriverError.notFound("snapshot \(id)") }
                guard source.sizeGB <= volume.sizeGB else { throw DriverError.invalidInput("a volume cannot be smaller than its snapshot") }
                origin = "snapshot \(id)"
                written = source.written
            }
            s.volumes[volume.id] = Volume(sizeGB: volume.sizeGB, origin: origin, written: written)
        }
    }

    public func delete(_ id: String) async throws {
        try state.withLock { s in
            guard let volume = s.volumes[id] else { return }
            guard volume.hosts.isEmpty else { throw DriverError.invalidState("volume \(id) is still connected to \(volume.hosts.sorted())") }
            s.volumes.removeValue(forKey: id)
        }
    }

    public func extend(_ id: String, sizeGB: Int) async throws {
        try state.withLock { s in
            guard var volume = s.volumes[id] else { throw DriverError.notFound("volume \(id)") }
            guard sizeGB >= volume.sizeGB else { throw DriverError.invalidInput("volume \(id) cannot shrink from \(volume.sizeGB) GiB") }
            volume.sizeGB = sizeGB
            s.volumes[id] = volume
        }
    }

    public func createSnapshot(_ snapshotID: String, of volumeID: String) async throws {
        try state.withLock { s in
            guard s.snapshots[snapshotID] == nil else { return }
            guard let volume = s.volumes[volumeID] else { throw DriverError.notFound("volume \(volumeID)") }
            s.snapshots[snapshotID] = Volume(sizeGB: volume.sizeGB, origin: "volume \(volumeID)", written: volume.written)
        }
    }

    public func deleteSnapshot(_ snapshotID: String) async throws {
        _ = state.withLock { $0.snapshots.removeValue(forKey: snapshotID) }
    }

    public func revert(_ volumeID: String, to snapshotID: String) async throws {
        try state.withLock { s in
            guard var volume = s.volumes[volumeID] else { throw DriverError.notFound("volume \(volumeID)") }
            guard let snapshot = s.snapshots[snapshotID] else { throw DriverError.notFound("snapshot \(snapshotID)") }
            (volume.origin, volume.written) = ("snapshot \(snapshotID)", snapshot.written)
            s.volumes[volumeID] = volume
        }
    }

    public func reimage(_ id: String, from source: VolumeSpec.Source) async throws {
        try state.withLock { s in
            guard var volume = s.volumes[id] else { throw DriverError.notFound("volume \(id)") }
            let from: Volume?
            switch source {
            case .blank, .image: from = nil
            case .volume(let other):
                guard let found = s.volumes[other] else { throw DriverError.notFound("volume \(other)") }
                from = found
            case .snapshot(let snapshot):
                guard let found = s.snapshots[snapshot] else { throw DriverError.notFound("snapshot \(snapshot)") }
                from = found
            }
            guard (from?.sizeGB ?? 0) <= volume.sizeGB else { throw DriverError.invalidInput("the source is larger than volume \(id)") }
            volume.origin = switch source {
            case .blank: "blank"
            case .image(let image): "image \(image)"
            case .volume(let other): "volume \(other)"
            case .snapshot(let snapshot): "snapshot \(snapshot)"
            }
            volume.written = from?.written
            s.volumes[id] = volume
        }
    }

    public func backendVolumes() async throws -> [BackendVolume] {
        state.withLock { s in s.volumes.map { BackendVolume(name: "volume-\($0.key)", id: $0.key, sizeGB: $0.value.sizeGB) } }
    }

    public func manage(_ name: String, as id: String) async throws {
        try state.withLock { s in
            let source = name.hasPrefix("volume-") ? String(name.dropFirst("volume-".count)) : nil
            // Taken already (a manage run again).
            if source == id || (source.map { s.volumes[$0] == nil } ?? true) && s.volumes[id] != nil { return }
            guard let source, let volume = s.volumes[source] else { throw DriverError.notFound("backend volume \(name)") }
            guard s.volumes[id] == nil else { throw DriverError.invalidState("volume \(id) exists") }
            s.volumes[source] = nil
            s.volumes[id] = volume
        }
    }

    public func connect(_ id: String, host: String) async throws -> VolumeConnection {
        try state.withLock { s in
            guard var volume = s.volumes[id] else { throw DriverError.notFound("volume \(id)") }
            volume.hosts.insert(host)
            s.volumes[id] = volume
        }
        return VolumeConnection(driverVolumeType: "fake", data: ["volume_id": id, "host": host])
    }

    public func disconnect(_ id: String, host: String) async throws {
        state.withLock { s in _ = s.volumes[id]?.hosts.remove(host) }
    }

    public func read(_ id: String, format: String) async throws -> ByteChunks {
        guard let volume = state.withLock({ $0.volumes[id] }) else { throw DriverError.notFound("volume \(id)") }
        if let written = volume.written, format == "raw" { return BufferChunks(bytes: written) }
        return BufferChunks(bytes: Array("fake \(format) volume \(id) of \(volume.sizeGB) GiB from \(volume.origin)\n".utf8))
    }

    /// Keeps up to `maxWritten` bytes in memory; a larger image is refused (nothing fake needs more).
    public func write(_ id: String, raw: ByteChunks) async throws {
        guard let volume = state.withLock({ $0.volumes[id] }) else { throw DriverError.notFound("volume \(id)") }
        var bytes: [UInt8] = []
        for try await chunk in raw {
            bytes.append(contentsOf: chunk.readableBytesView)
            guard bytes.count <= Self.maxWritten, bytes.count <= volume.sizeGB << 30 else {
                throw DriverError.invalidInput("the fake driver keeps at most \(Self.maxWritten) bytes of a volume")
            }
        }
        state.withLock { s in
            s.volumes[id]?.written = bytes
            s.volumes[id]?.origin = "restore"
        }
    }

    public static let maxWritten = 1 << 20

    public func capacity() async throws -> VolumeCapacity {
        let used = state.withLock { $0.volumes.values.reduce(0) { $0 + $1.sizeGB } }
        return VolumeCapacity(totalGB: totalGB, freeGB: totalGB - used)
    }

    /// Whether the volume exists, and the hosts it is connected to (tests check what was asked).
    public func volume(_ id: String) -> (sizeGB: Int, hosts: Set<String>)? {
        state.withLock { s in s.volumes[id].map { ($0.sizeGB, $0.hosts) } }
    }

    public func snapshotExists(_ id: String) -> Bool { state.withLock { $0.snapshots[id] != nil } }

    /// Where the volume's bytes last came from (`snapshot <id>` after a revert).
    public func origin(_ id: String) -> String? { state.withLock { $0.volumes[id]?.origin } }
}
