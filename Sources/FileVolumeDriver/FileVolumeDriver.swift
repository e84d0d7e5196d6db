import DriverKit
import Foundation
import Logging
import MartletCore

/// Volumes as raw sparse files in one folder of this host (as Cinder's NFS driver keeps them by
/// default), made and changed with `qemu-img`. Raw, because two guests can write one raw file at
/// once (multiattach) and qemu reads it without a format layer; volumes that Martlet made as qcow2
/// before are kept and served in their format, but not shared. Clones and snapshots are
/// `cp --reflink=auto` copies: copy-on-write where the file system shares extents (btrfs, XFS), a
/// sparse copy elsewhere, and never a backing chain that would tie a volume's life to another's.
/// Every file is made under a temporary name and renamed when whole, so a crash leaves no half
/// volume under a volume's name; `sweep` removes the temporary leftovers.
public final class FileVolumeDriver: VolumeDriver {
    public let folder: String
    let images: any ImageSource
    let logger: Logger
    /// Raw files take several writers: each guest sees the others' writes through the host's cache.
    public var supportsMultiattach: Bool { true }

    public init(folder: String, images: any ImageSource, logger: Logger = Logger(label: "martlet.volume.file")) throws {
        self.folder = folder
        self.images = images
        self.logger = logger
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        sweep()
    }

    /// A volume's or snapshot's file and its format, which its name ends with.
    struct DiskFile {
        var path: String
        var format: String
    }

    /// The formats files are kept in: new ones raw, older ones as they were made.
    static let formats = ["raw", "qcow2"]

    /// The file of volume `id`, if it has one.
    func volumeFile(_ id: String) throws -> DiskFile? { try existing("volume-\(Self.checked(id))") }
    func snapshotFile(_ id: String) throws -> DiskFile? { try existing("snapshot-\(Self.checked(id))") }
    /// The file of volume `id`, which must have one.
    func requiredVolumeFile(_ id: String) throws -> DiskFile {
        guard let file = try volumeFile(id) else { throw DriverError.notFound("volume \(id)") }
        return file
    }
    func requiredSnapshotFile(_ id: String) throws -> DiskFile {
        guard let file = try snapshotFile(id) else { throw DriverError.notFound("snapshot \(id)") }
        return file
    }
    /// Where a new volume's file goes.
    func newVolumePath(_ id: String) throws -> String { "\(folder)/volume-\(try Self.checked(id)).raw" }

    private func existing(_ name: String) -> DiskFile? {
        Self.formats.lazy.map { DiskFile(path: "\(self.folder)/\(name).\($0)", format: $0) }.first { self.exists($0.path) }
    }

    /// IDs become file names: letters, digits, `-` and `_` only.
    static func checked(_ id: String) throws -> String {
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw DriverError.invalidInput("'\(id)' is not a volume or snapshot ID.")
        }
        return id
    }

    private var exists: (String) -> Bool { { FileManager.default.fileExists(atPath: $0) } }

    /// The size the guest sees. A raw file's is its length: asking qemu-img would let a guest that
    /// wrote a qcow2 header into its volume pass the file off as another image.
    static func virtualSize(_ file: DiskFile) async throws -> Int64 {
        guard file.format == "raw" else { return try await DiskImage.info(file.path).virtualSize }
        return ((try FileManager.default.attributesOfItem(atPath: file.path)[.size]) as? NSNumber)?.int64Value ?? 0
    }

    public func create(_ volume: VolumeSpec) async throws {
        guard volume.sizeGB > 0 else { throw DriverError.invalidInput("a volume needs a size of at least 1 GiB") }
        if let file = try volumeFile(volume.id) {
            guard try await Self.virtualSize(file) == Int64(volume.sizeGB) << 30 else {
                throw DriverError.invalidState("volume \(volume.id) exists with another size")
            }
            return
        }
        let target = DiskFile(path: try newVolumePath(volume.id), format: "raw")
        try await fill(target, from: volume.source, sizeGB: volume.sizeGB, partial: "\(target.path).part")
    }

    /// The source's bytes written to `partial` in the target's format, grown to the size, then
    /// renamed over the target: a crash or a refused source leaves the target as it was.
    private func fill(_ target: DiskFile, from source: VolumeSpec.Source, sizeGB: Int, partial: String) async throws {
        try? FileManager.default.removeItem(atPath: partial)
        defer { try? FileManager.default.removeItem(atPath: partial) }
        switch source {
        case .blank:
            try await HostCommand.run(["qemu-img", "create", "-q", "-f", target.format, partial, "\(sizeGB)G"])
        case .volume(let id):
            try await copy(try requiredVolumeFile(id), to: partial, format: target.format)
        case .snapshot(let id):
            try await copy(try requiredSnapshotFile(id), to: partial, format: target.format)
        case .image(let id):
            try await fetch(image: id, into: partial, format: target.format)
        }
        let made = DiskFile(path: partial, format: target.format)
        let size = try await Self.virtualSize(made)
        guard size <= Int64(sizeGB) << 30 else {
            throw DriverError.invalidInput("the source is \(size) bytes, more than the volume's \(sizeGB) GiB")
        }
        if size < Int64(sizeGB) << 30 { try await resize(made, toBytes: Int64(sizeGB) << 30) }
        try await DurableFile.rename(partial, to: target.path)
    }

    /// A copy in `format`: one that shares the source's extents where the file system can, or a
    /// conversion when the formats differ (an older qcow2 volume cloned to a raw one).
    private func copy(_ source: DiskFile, to copy: String, format: String) async throws {
        if source.format == format {
            try await HostCommand.run(["cp", "--reflink=auto", "--sparse=always", source.path, copy])
        } else {
            try await HostCommand.run(["qemu-img", "convert", "-q", "-U", "-f", source.format, "-O", format, source.path, copy])
        }
    }

    private func resize(_ file: DiskFile, toBytes bytes: Int64) async throws {
        try await HostCommand.run(["qemu-img", "resize", "-q", "-f", file.format, file.path, "\(bytes)"])
    }

    /// The image's bytes, streamed to disk, checked (no backing file: it could read any file of
    /// this host) and converted to `format`.
    /// An image the Image service keeps as a local file is converted in place; another is
    /// streamed to a temporary file first.
    private func fetch(image id: String, into target: String, format: String) async throws {
        if let file = try await images.imageFile(id: id) {
            try await convert(file, into: target, format: format, image: id)
            return
        }
        guard let chunks = try await images.imageData(id: id) else { throw DriverError.invalidInput("Image \(id) has no data.") }
        let download = "\(target).download"
        defer { try? FileManager.default.removeItem(atPath: download) }
        do {
            _ = try await DurableFile.write(chunks, to: download, temporary: download + ".part")
        } catch let error as DurableFileError {
            throw DriverError.failed("Image \(id) could not be stored: \(error.reason).")
        }
        try await convert(download, into: target, format: format, image: id)
    }

    private func convert(_ source: String, into target: String, format: String, image id: String) async throws {
        let info = try await DiskImage.info(source)
        guard DiskImage.uploadableFormats.contains(info.format) else { throw DriverError.invalidInput("Image \(id) is \(info.format), not a disk image a volume is made from.") }
        guard !info.namesHostFile else { throw DriverError.invalidInput("Image \(id) names other files of the host (a backing or data file, VMDK extents), which a volume source may not.") }
        if info.format == "qcow2" { try await DiskImage.check(source) }
        try await HostCommand.run(["qemu-img", "convert", "-q", "-f", info.format, "-O", format, source, target])
    }

    public func delete(_ id: String) async throws {
        while let file = try volumeFile(id) { try FileManager.default.removeItem(atPath: file.path) }
    }

    public func extend(_ id: String, sizeGB: Int) async throws {
        let file = try requiredVolumeFile(id)
        let size = try await Self.virtualSize(file)
        guard Int64(sizeGB) << 30 >= size else { throw DriverError.invalidInput("volume \(id) cannot shrink from \(size >> 30) GiB") }
        if Int64(sizeGB) << 30 > size { try await resize(file, toBytes: Int64(sizeGB) << 30) }
    }

    /// A copy of the volume's file, in its format.
    public func createSnapshot(_ snapshotID: String, of volumeID: String) async throws {
        guard try snapshotFile(snapshotID) == nil else { return }
        let volume = try requiredVolumeFile(volumeID)
        let target = "\(folder)/snapshot-\(try Self.checked(snapshotID)).\(volume.format)"
        let partial = "\(target).part"
        defer { try? FileManager.default.removeItem(atPath: partial) }
        try await copy(volume, to: partial, format: volume.format)
        try await DurableFile.rename(partial, to: target)
    }

    public func deleteSnapshot(_ snapshotID: String) async throws {
        while let file = try snapshotFile(snapshotID) { try FileManager.default.removeItem(atPath: file.path) }
    }

    /// The snapshot's file copied beside the volume's, then renamed over it: a crash leaves the
    /// old bytes or the new, and the revert can simply run again.
    public func revert(_ volumeID: String, to snapshotID: String) async throws {
        let volume = try requiredVolumeFile(volumeID)
        let snapshot = try requiredSnapshotFile(snapshotID)
        let partial = "\(volume.path).revert"
        defer { try? FileManager.default.removeItem(atPath: partial) }
        try await copy(snapshot, to: partial, format: volume.format)
        try await DurableFile.rename(partial, to: volume.path)
    }

    /// The source is written beside the volume's file, then renamed over it.
    public func reimage(_ id: String, from source: VolumeSpec.Source) async throws {
        let volume = try requiredVolumeFile(id)
        let size = try await Self.virtualSize(volume)
        try await fill(volume, from: source, sizeGB: Int(size >> 30), partial: "\(volume.path).reimage")
    }

    /// The `volume-<id>` files of the folder, named as their file is, less its format.
    public func backendVolumes() async throws -> [BackendVolume] {
        var found: [BackendVolume] = []
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasPrefix("volume-") {
            guard let format = Self.formats.first(where: { file.hasSuffix(".\($0)") }) else { continue }
            let name = String(file.dropLast(format.count + 1))
            guard let id = try? Self.checked(String(name.dropFirst("volume-".count))),
                  let size = try? await Self.virtualSize(DiskFile(path: "\(folder)/\(file)", format: format)) else { continue }
            found.append(BackendVolume(name: name, id: id, sizeGB: Int((size + (1 << 30) - 1) >> 30)))
        }
        return found.sorted { $0.name < $1.name }
    }

    /// The file is renamed to the new volume's name: its bytes stay where they are.
    public func manage(_ name: String, as id: String) async throws {
        let taken = try volumeFile(id)
        guard name.hasPrefix("volume-"), let source = try volumeFile(String(name.dropFirst("volume-".count))) else {
            if taken != nil { return }
            throw DriverError.notFound("backend volume \(name)")
        }
        if source.path == taken?.path { return }
        guard taken == nil else { throw DriverError.invalidState("volume \(id) exists") }
        try await DurableFile.rename(source.path, to: "\(folder)/volume-\(try Self.checked(id)).\(source.format)")
    }

    /// This driver's files are on this host: the connection is the file's path and format.
    public func connect(_ id: String, host: String) async throws -> VolumeConnection {
        let file = try requiredVolumeFile(id)
        return VolumeConnection(driverVolumeType: "file", data: ["path": file.path, "format": file.format])
    }

    public func disconnect(_ id: String, host: String) async throws {}

    /// A copy in the asked format (a volume attached with `force` is read without its lock),
    /// streamed and removed as it is read.
    public func read(_ id: String, format: String) async throws -> ByteChunks {
        let file = try requiredVolumeFile(id)
        let qemuFormat = DiskImage.qemuFormat(format)
        guard Self.readableFormats.contains(qemuFormat) else { throw DriverError.invalidInput("a volume cannot be read as \(format)") }
        let copy = "\(folder)/read-\(Identifier.hex()).part"
        do {
            try await HostCommand.run(["qemu-img", "convert", "-q", "-U", "-f", file.format, "-O", qemuFormat, file.path, copy])
        } catch {
            try? FileManager.default.removeItem(atPath: copy)
            throw error
        }
        return FileChunks(path: copy, removesFile: true)
    }

    /// Streams the raw bytes to a temporary file, converts it to the volume's format and size and
    /// renames that over the volume, so a failure leaves the volume as it was.
    public func write(_ id: String, raw: ByteChunks) async throws {
        let file = try requiredVolumeFile(id)
        let size = try await Self.virtualSize(file)
        let incoming = "\(folder)/write-\(Identifier.hex()).part", converted = "\(file.path).part"
        defer {
            try? FileManager.default.removeItem(atPath: incoming)
            try? FileManager.default.removeItem(atPath: converted)
        }
        do {
            _ = try await DurableFile.write(raw, to: incoming, temporary: incoming + ".part", limit: size)
        } catch DurableFileError.tooLarge {
            throw DriverError.invalidInput("the image is larger than volume \(id)")
        } catch let error as DurableFileError {
            throw DriverError.failed("volume \(id) could not be written: \(error.reason).")
        }
        try await HostCommand.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", file.format, incoming, converted])
        let made = DiskFile(path: converted, format: file.format)
        if try await Self.virtualSize(made) < size { try await resize(made, toBytes: size) }
        try await DurableFile.rename(converted, to: file.path)
    }

    /// What `read` converts to: the qemu names of the Image service's disk formats.
    static let readableFormats: Set<String> = ["raw", "qcow2", "vmdk", "vdi", "vpc", "vhdx"]

    public func capacity() async throws -> VolumeCapacity {
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: folder)
        let total = (attributes[.systemSize] as? NSNumber)?.int64Value ?? 0
        let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value ?? 0
        return VolumeCapacity(totalGB: Int(total >> 30), freeGB: Int(free >> 30))
    }

    /// Removes what a crash left under temporary names.
    func sweep() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where [".part", ".download", ".revert", ".reimage"].contains(where: { name.hasSuffix($0) }) {
            try? FileManager.default.removeItem(atPath: "\(folder)/\(name)")
        }
    }
}
