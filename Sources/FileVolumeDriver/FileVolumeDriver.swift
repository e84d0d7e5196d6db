import DriverKit
import Foundation
import Logging
import MartletCore

/// Volumes as qcow2 files in one folder of this host, made and changed with `qemu-img`. Clones and
/// snapshots are `cp --reflink=auto` copies: copy-on-write where the file system shares extents
/// (btrfs, XFS), a sparse copy elsewhere, and never a backing chain that would tie a volume's life
/// to another's. Every file is made under a temporary name and renamed when whole, so a crash
/// leaves no half volume under a volume's name; `sweep` removes the temporary leftovers.
public final class FileVolumeDriver: VolumeDriver {
    public let folder: String
    let images: any ImageSource
    let logger: Logger
    /// Two qemu processes writing one qcow2 file would each cache its tables and corrupt it.
    public var supportsMultiattach: Bool { false }

    public init(folder: String, images: any ImageSource, logger: Logger = Logger(label: "martlet.volume.file")) throws {
        self.folder = folder
        self.images = images
        self.logger = logger
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        sweep()
    }

    func path(volume id: String) throws -> String { "\(folder)/volume-\(try Self.checked(id)).qcow2" }
    func path(snapshot id: String) throws -> String { "\(folder)/snapshot-\(try Self.checked(id)).qcow2" }

    /// IDs become file names: letters, digits, `-` and `_` only.
    static func checked(_ id: String) throws -> String {
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw DriverError.invalidInput("'\(id)' is not a volume or snapshot ID.")
        }
        return id
    }

    private var exists: (String) -> Bool { { FileManager.default.fileExists(atPath: $0) } }

    public func create(_ volume: VolumeSpec) async throws {
        guard volume.sizeGB > 0 else { throw DriverError.invalidInput("a volume needs a size of at least 1 GiB") }
        let target = try path(volume: volume.id)
        if exists(target) {
            guard try await DiskImage.info(target).virtualSize == Int64(volume.sizeGB) << 30 else {
                throw DriverError.invalidState("volume \(volume.id) exists with another size")
            }
            return
        }
        try await fill(target, from: volume.source, sizeGB: volume.sizeGB, partial: "\(target).part")
    }

    /// The source's bytes written to `partial` as qcow2, grown to the size, then renamed over
    /// `target`: a crash or a refused source leaves `target` as it was.
    private func fill(_ target: String, from source: VolumeSpec.Source, sizeGB: Int, partial: String) async throws {
        try? FileManager.default.removeItem(atPath: partial)
        defer { try? FileManager.default.removeItem(atPath: partial) }
        switch source {
        case .blank:
            try await HostCommand.run(["qemu-img", "create", "-q", "-f", "qcow2", partial, "\(sizeGB)G"])
        case .volume(let id):
            try await copy(try path(volume: id), to: partial, what: "volume \(id)")
        case .snapshot(let id):
            try await copy(try path(snapshot: id), to: partial, what: "snapshot \(id)")
        case .image(let id):
            try await fetch(image: id, into: partial)
        }
        let size = try await DiskImage.info(partial).virtualSize
        guard size <= Int64(sizeGB) << 30 else {
            throw DriverError.invalidInput("the source is \(size) bytes, more than the volume's \(sizeGB) GiB")
        }
        if size < Int64(sizeGB) << 30 { try await HostCommand.run(["qemu-img", "resize", "-q", partial, "\(sizeGB)G"]) }
        try await DurableFile.rename(partial, to: target)
    }

    /// A copy that shares the source's extents where the file system can.
    private func copy(_ source: String, to copy: String, what: String) async throws {
        guard exists(source) else { throw DriverError.notFound(what) }
        try await HostCommand.run(["cp", "--reflink=auto", "--sparse=always", source, copy])
    }

    /// The image's bytes, streamed to disk, checked (no backing file: it could read any file of
    /// this host) and converted to qcow2.
    /// An image the Image service keeps as a local file is converted in place; another is
    /// streamed to a temporary file first.
    private func fetch(image id: String, into target: String) async throws {
        if let file = try await images.imageFile(id: id) {
            try await convert(file, into: target, image: id)
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
        try await convert(download, into: target, image: id)
    }

    private func convert(_ source: String, into target: String, image id: String) async throws {
        let info = try await DiskImage.info(source)
        guard DiskImage.uploadableFormats.contains(info.format) else { throw DriverError.invalidInput("Image \(id) is \(info.format), not a disk image a volume is made from.") }
        guard !info.namesHostFile else { throw DriverError.invalidInput("Image \(id) names other files of the host (a backing or data file, VMDK extents), which a volume source may not.") }
        if info.format == "qcow2" { try await DiskImage.check(source) }
        try await HostCommand.run(["qemu-img", "convert", "-q", "-f", info.format, "-O", "qcow2", source, target])
    }

    public func delete(_ id: String) async throws {
        try? FileManager.default.removeItem(atPath: try path(volume: id))
    }

    public func extend(_ id: String, sizeGB: Int) async throws {
        let file = try path(volume: id)
        guard exists(file) else { throw DriverError.notFound("volume \(id)") }
        let size = try await DiskImage.info(file).virtualSize
        guard Int64(sizeGB) << 30 >= size else { throw DriverError.invalidInput("volume \(id) cannot shrink from \(size >> 30) GiB") }
        if Int64(sizeGB) << 30 > size { try await HostCommand.run(["qemu-img", "resize", "-q", file, "\(sizeGB)G"]) }
    }

    public func createSnapshot(_ snapshotID: String, of volumeID: String) async throws {
        let target = try path(snapshot: snapshotID)
        guard !exists(target) else { return }
        let partial = "\(target).part"
        defer { try? FileManager.default.removeItem(atPath: partial) }
        try await copy(try path(volume: volumeID), to: partial, what: "volume \(volumeID)")
        try await DurableFile.rename(partial, to: target)
    }

    public func deleteSnapshot(_ snapshotID: String) async throws {
        try? FileManager.default.removeItem(atPath: try path(snapshot: snapshotID))
    }

    /// The snapshot's file copied beside the volume's, then renamed over it: a crash leaves the
    /// old bytes or the new, and the revert can simply run again.
    public func revert(_ volumeID: String, to snapshotID: String) async throws {
        let target = try path(volume: volumeID)
        guard exists(target) else { throw DriverError.notFound("volume \(volumeID)") }
        let partial = "\(target).revert"
        defer { try? FileManager.default.removeItem(atPath: partial) }
        try await copy(try path(snapshot: snapshotID), to: partial, what: "snapshot \(snapshotID)")
        try await DurableFile.rename(partial, to: target)
    }

    /// The source is written beside the volume's file, then renamed over it.
    public func reimage(_ id: String, from source: VolumeSpec.Source) async throws {
        let target = try path(volume: id)
        guard exists(target) else { throw DriverError.notFound("volume \(id)") }
        let size = try await DiskImage.info(target).virtualSize
        try await fill(target, from: source, sizeGB: Int(size >> 30), partial: "\(target).reimage")
    }

    /// The `volume-<id>.qcow2` files of the folder, named as their file is, less `.qcow2`.
    public func backendVolumes() async throws -> [BackendVolume] {
        var found: [BackendVolume] = []
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasPrefix("volume-") && file.hasSuffix(".qcow2") {
            let name = String(file.dropLast(".qcow2".count))
            guard let id = try? Self.checked(String(name.dropFirst("volume-".count))),
                  let size = try? await DiskImage.info("\(folder)/\(file)").virtualSize else { continue }
            found.append(BackendVolume(name: name, id: id, sizeGB: Int((size + (1 << 30) - 1) >> 30)))
        }
        return found.sorted { $0.name < $1.name }
    }

    /// The file is renamed to the new volume's name: its bytes stay where they are.
    public func manage(_ name: String, as id: String) async throws {
        let target = try path(volume: id)
        guard name.hasPrefix("volume-") else { throw DriverError.notFound("backend volume \(name)") }
        let source = try path(volume: String(name.dropFirst("volume-".count)))
        if source == target || (!exists(source) && exists(target)) { return }
        guard exists(source) else { throw DriverError.notFound("backend volume \(name)") }
        guard !exists(target) else { throw DriverError.invalidState("volume \(id) exists") }
        try await DurableFile.rename(source, to: target)
    }

    /// This driver's files are on this host: the connection is the file's path.
    public func connect(_ id: String, host: String) async throws -> VolumeConnection {
        let file = try path(volume: id)
        guard exists(file) else { throw DriverError.notFound("volume \(id)") }
        return VolumeConnection(driverVolumeType: "file", data: ["path": file, "format": "qcow2"])
    }

    public func disconnect(_ id: String, host: String) async throws {}

    /// A copy in the asked format (a volume attached with `force` is read without its lock),
    /// streamed and removed as it is read.
    public func read(_ id: String, format: String) async throws -> ByteChunks {
        let file = try path(volume: id)
        guard exists(file) else { throw DriverError.notFound("volume \(id)") }
        let qemuFormat = DiskImage.qemuFormat(format)
        guard Self.readableFormats.contains(qemuFormat) else { throw DriverError.invalidInput("a volume cannot be read as \(format)") }
        let copy = "\(folder)/read-\(Identifier.hex()).part"
        do {
            try await HostCommand.run(["qemu-img", "convert", "-q", "-U", "-f", "qcow2", "-O", qemuFormat, file, copy])
        } catch {
            try? FileManager.default.removeItem(atPath: copy)
            throw error
        }
        return FileChunks(path: copy, removesFile: true)
    }

    /// Streams the raw bytes to a temporary file, converts it to qcow2 of the volume's size and
    /// renames that over the volume, so a failure leaves the volume as it was.
    public func write(_ id: String, raw: ByteChunks) async throws {
        let file = try path(volume: id)
        guard exists(file) else { throw DriverError.notFound("volume \(id)") }
        let size = try await DiskImage.info(file).virtualSize
        let incoming = "\(folder)/write-\(Identifier.hex()).part", converted = "\(file).part"
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
        try await HostCommand.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", incoming, converted])
        if try await DiskImage.info(converted).virtualSize < size { try await HostCommand.run(["qemu-img", "resize", "-q", converted, "\(size)"]) }
        try await DurableFile.rename(converted, to: file)
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
