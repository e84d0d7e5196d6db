import Crypto
import DriverKit
import Foundation
import Logging
import MartletCore
import NIOCore

/// The host's copies of Image service images, one qcow2 base per image under
/// `<data-dir>/qemu/images`, which servers' disks are overlays of. An image is fetched once
/// however many servers boot it at the same time; a copy is checked (checksum, format, no backing
/// file) before any server uses it, and nothing of a failed fetch stays behind.
actor ImageCache {
    let folder: String
    let source: any ImageSource
    let logger: Logger
    private var fetching: [String: Task<CachedImage, any Error>] = [:]
    /// Virtual sizes of the bases, so a boot does not ask qemu-img again.
    private var sizes: [String: Int64] = [:]
    private var lastEviction: ContinuousClock.Instant?

    /// A base and the size of the disk it holds.
    struct CachedImage: Sendable {
        let path: String
        let virtualSize: Int64
    }

    init(folder: String, source: any ImageSource, logger: Logger) {
        self.folder = folder
        self.source = source
        self.logger = logger
        Self.sweep(folder)
    }

    /// Removes what a fetch cut off by a crash left under its temporary names: no fetch runs yet,
    /// and a stale `.part` would make every later fetch of that image fail.
    static func sweep(_ folder: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where [".download", ".part", ".staged"].contains(where: { name.hasSuffix($0) }) {
            try? FileManager.default.removeItem(atPath: "\(folder)/\(name)")
        }
    }

    /// The image's base, fetching it first when the host has no copy.
    func base(for image: InstanceImage) async throws -> CachedImage {
        let path = "\(folder)/\(image.id).qcow2"
        if FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
            if let size = sizes[image.id] { return CachedImage(path: path, virtualSize: size) }
            let size = try await DiskImage.info(path).virtualSize
            sizes[image.id] = size
            return CachedImage(path: path, virtualSize: size)
        }
        if let running = fetching[image.id] { return try await running.value }
        let task = Task { try await fetch(image, to: path) }
        fetching[image.id] = task
        defer { fetching[image.id] = nil }
        let cached = try await task.value
        sizes[image.id] = cached.virtualSize
        return cached
    }

    private nonisolated func fetch(_ image: InstanceImage, to path: String) async throws -> CachedImage {
        if let format = image.diskFormat, !Self.diskFormats.contains(format) {
            throw DriverError.invalidInput("Image \(image.id) has disk format \(format), which is not a disk image this host can boot.")
        }
        if let container = image.containerFormat, !["bare", "ovf"].contains(container) {
            throw DriverError.invalidInput("Image \(image.id) has container format \(container); only bare images can be booted.")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard let chunks = try await source.imageData(id: image.id) else {
            throw DriverError.invalidInput("Image \(image.id) has no data.")
        }
        let download = "\(folder)/\(image.id).download"
        defer { try? FileManager.default.removeItem(atPath: download) }
        var digest = MD5Observer()
        let size: Int64
        do {
            size = try await DurableFile.write(chunks, to: download, temporary: download + ".part", observer: &digest)
        } catch let error as DurableFileError {
            throw DriverError.failed("Image \(image.id) could not be stored on this host: \(error.reason).")
        }
        if let expected = image.size, expected != size {
            throw DriverError.invalidInput("Image \(image.id) is truncated: \(size) of \(expected) bytes arrived.")
        }
        if let checksum = image.checksum, checksum.lowercased() != digest.hex {
            throw DriverError.invalidInput("Image \(image.id) failed its checksum: expected \(checksum), got \(digest.hex).")
        }
        let info = try await DiskImage.info(download)
        if let declared = image.diskFormat, DiskImage.qemuFormat(declared) != info.format {
            throw DriverError.invalidInput("Image \(image.id) says it is \(declared) but its data is \(info.format).")
        }
        guard DiskImage.uploadableFormats.contains(info.format) else {
            throw DriverError.invalidInput("Image \(image.id) is \(info.format), not a disk image this host boots.")
        }
        if info.namesHostFile {
            // A backing or data file, or a VMDK's extents elsewhere, would let an image read any file of the host.
            throw DriverError.invalidInput("Image \(image.id) names other files of the host (a backing or data file, VMDK extents), which an uploaded image may not.")
        }
        if info.format == "qcow2" { try await DiskImage.check(download) }
        let staged = "\(folder)/\(image.id).staged"
        defer { try? FileManager.default.removeItem(atPath: staged) }
        try await HostCommand.run(["qemu-img", "convert", "-q", "-f", info.format, "-O", "qcow2", download, staged])
        try await DurableFile.rename(staged, to: path)
        logger.info("cached image", metadata: ["image": "\(image.id)", "bytes": "\(size)", "format": "\(info.format)"])
        return CachedImage(path: path, virtualSize: info.virtualSize)
    }

    /// Whether an eviction round is due: one every ten minutes at most (or every `maxAge`, when
    /// shorter), since finding the images in use reads every server's description.
    func evictionDue(maxAge: TimeInterval) -> Bool {
        let now = ContinuousClock.now
        if let last = lastEviction, now - last < .seconds(min(maxAge, 600)) { return false }
        lastEviction = now
        return true
    }

    /// Removes bases unused by `inUse` that no server has touched for `maxAge`.
    func evict(olderThan maxAge: TimeInterval, keeping inUse: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let cutoff = Date().addingTimeInterval(-maxAge)
        for name in names where name.hasSuffix(".qcow2") {
            let id = String(name.dropLast(".qcow2".count))
            let path = "\(folder)/\(name)"
            guard !inUse.contains(id), fetching[id] == nil,
                  let modified = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date,
                  modified < cutoff else { continue }
            try? FileManager.default.removeItem(atPath: path)
            sizes[id] = nil
            logger.info("evicted cached image", metadata: ["image": "\(id)"])
        }
    }

    /// The Image service's disk formats qemu can read.
    static let diskFormats: Set<String> = ["qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx"]
}

/// MD5 of the blocks as they are written.
struct MD5Observer: BlockObserver {
    private var hash = Insecure.MD5()
    mutating func observe(_ block: ByteBuffer) async { block.withUnsafeReadableBytes { hash.update(bufferPointer: $0) } }
    var hex: String { hash.finalize().map { String(format: "%02x", $0) }.joined() }
}
