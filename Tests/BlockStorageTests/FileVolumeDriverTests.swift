import DriverConformance
import DriverKit
import FileVolumeDriver
import Foundation
import MartletCore
import NIOCore
import Testing

/// The file driver with real qemu-img: the conformance suite, images as sources (in place and
/// streamed), hostile images (backing file, data file, VMDK descriptor) refused with nothing left
/// behind, reads in other formats.
@Suite struct FileVolumeDriverTests {
    /// Images as files in a folder: `imageFile` names them, `imageData` streams them.
    struct FolderImages: ImageSource {
        let folder: String
        let inPlace: Bool
        func imageData(id: String) async throws -> ByteChunks? { FileChunks(path: "\(folder)/\(id)") }
        func imageFile(id: String) async throws -> String? { inPlace ? "\(folder)/\(id)" : nil }
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "martlet-file-volumes-" + Identifier.hex().prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func length(_ path: String) throws -> Int64? {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    /// The first bytes of a volume read back as raw.
    static func head(_ driver: FileVolumeDriver, _ id: String, _ count: Int) async throws -> [UInt8] {
        var head: [UInt8] = []
        for try await chunk in try await driver.read(id, format: "raw") where head.isEmpty { head = Array(chunk.readableBytesView.prefix(count)) }
        return head
    }

    static func driver(_ root: String, inPlace: Bool = true) throws -> FileVolumeDriver {
        try FileVolumeDriver(folder: "\(root)/volumes", images: FolderImages(folder: "\(root)/images", inPlace: inPlace))
    }

    @Test(arguments: VolumeDriverConformance.checks)
    func conformance(_ check: ConformanceCheck<any VolumeDriver>) async throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await check.run(try Self.driver(root))
    }

    @Test(arguments: [true, false])
    func imagesBecomeVolumesAndHostileOnesAreRefused(inPlace: Bool) async throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let images = "\(root)/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        // A raw image with a marker, a qcow2 on a backing file of the host, a qcow2 with an external data file.
        try Data(("martlet-marker" + String(repeating: "\0", count: 4096)).utf8).write(to: URL(fileURLWithPath: "\(images)/plain"))
        try await HostCommand.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", "\(images)/backed"])
        try await HostCommand.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=\(root)/stolen", "\(images)/data-file", "1M"])
        // A VMDK descriptor whose flat extent is a host file (CVE-2022-47951).
        try Data("""
            # Disk DescriptorFile
            version=1
            CID=fffffffe
            parentCID=ffffffff
            createType="monolithicFlat"
            RW 1 FLAT "/etc/hostname" 0
            ddb.virtualHWVersion = "4"
            """.utf8).write(to: URL(fileURLWithPath: "\(images)/vmdk-descriptor"))
        let driver = try Self.driver(root, inPlace: inPlace)

        try await driver.create(VolumeSpec(id: "from-image", sizeGB: 1, source: .image("plain")))
        #expect(try Self.length("\(root)/volumes/volume-from-image.raw") == 1 << 30)
        var count = 0, head: [UInt8] = []
        for try await chunk in try await driver.read("from-image", format: "raw") {
            if head.isEmpty { head = Array(chunk.readableBytesView.prefix(14)) }
            count += chunk.readableBytes
        }
        #expect(count == 1 << 30 && head == Array("martlet-marker".utf8))

        for hostile in ["backed", "data-file", "vmdk-descriptor"] {
            await #expect(throws: DriverError.self) { try await driver.create(VolumeSpec(id: "bad-\(hostile)", sizeGB: 1, source: .image(hostile))) }
        }
        // A re-image takes another image's bytes and keeps the volume's size; a larger image or a
        // hostile one is refused and the volume keeps its bytes.
        try Data(("second-marker" + String(repeating: "\0", count: 4096)).utf8).write(to: URL(fileURLWithPath: "\(images)/second"))
        try await HostCommand.run(["qemu-img", "create", "-q", "-f", "qcow2", "\(images)/large", "2G"])
        try await driver.reimage("from-image", from: .image("second"))
        #expect(try Self.length("\(root)/volumes/volume-from-image.raw") == 1 << 30)
        for refused in ["large", "backed"] {
            await #expect(throws: DriverError.self) { try await driver.reimage("from-image", from: .image(refused)) }
        }
        #expect(try await Self.head(driver, "from-image", 13) == Array("second-marker".utf8))
        try await driver.delete("from-image")
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(root)/volumes")
        #expect(left.isEmpty, "left behind: \(left)")
        await #expect(throws: DriverError.self) { _ = try await driver.read("../images/plain", format: "raw") }
    }

    /// A volume an older Martlet kept as qcow2 is served in its format (extended, snapshotted in
    /// it, reverted, cloned to a raw volume); a raw volume whose guest wrote a qcow2 header with a
    /// backing file into it stays raw bytes: no size, read or copy ever takes it for a qcow2.
    @Test func olderQcow2VolumesKeepTheirFormatAndRawOnesAreNeverProbed() async throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let driver = try Self.driver(root)
        let volumes = "\(root)/volumes"
        try Data(("older-marker" + String(repeating: "\0", count: 4096)).utf8).write(to: URL(fileURLWithPath: "\(root)/older.raw"))
        try await HostCommand.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", "\(root)/older.raw", "\(volumes)/volume-older.qcow2"])
        try await HostCommand.run(["qemu-img", "resize", "-q", "-f", "qcow2", "\(volumes)/volume-older.qcow2", "1G"])

        #expect(try await driver.connect("older", host: "h").data == ["path": "\(volumes)/volume-older.qcow2", "format": "qcow2"])
        try await driver.extend("older", sizeGB: 2)
        #expect(try await DiskImage.info("\(volumes)/volume-older.qcow2").virtualSize == 2 << 30)
        try await driver.createSnapshot("kept", of: "older")
        #expect(FileManager.default.fileExists(atPath: "\(volumes)/snapshot-kept.qcow2"))
        try await driver.create(VolumeSpec(id: "clone", sizeGB: 2, source: .volume("older")))
        try await driver.create(VolumeSpec(id: "restored", sizeGB: 3, source: .snapshot("kept")))
        for id in ["clone", "restored"] {
            #expect(try Self.length("\(volumes)/volume-\(id).raw") == Int64(id == "clone" ? 2 : 3) << 30)
            #expect(try await Self.head(driver, id, 12) == Array("older-marker".utf8))
        }
        try await driver.revert("older", to: "kept")
        #expect(try await Self.head(driver, "older", 12) == Array("older-marker".utf8))
        #expect(try await driver.backendVolumes().map(\.name) == ["volume-clone", "volume-older", "volume-restored"])

        // The guest of "clone" writes a qcow2 header naming a host file over its first sector.
        try await HostCommand.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", "\(root)/header", "8G"])
        try await HostCommand.run(["dd", "if=\(root)/header", "of=\(volumes)/volume-clone.raw", "bs=512", "count=1", "conv=notrunc", "status=none"])
        #expect(try await driver.connect("clone", host: "h").data["format"] == "raw")
        #expect(try await driver.backendVolumes().first { $0.name == "volume-clone" }?.sizeGB == 2)
        try await driver.extend("clone", sizeGB: 3)
        #expect(try Self.length("\(volumes)/volume-clone.raw") == 3 << 30)
        try await driver.create(VolumeSpec(id: "copy", sizeGB: 3, source: .volume("clone")))
        #expect(try await Self.head(driver, "copy", 4) == [0x51, 0x46, 0x49, 0xfb])  // "QFI\xfb", the header's own bytes
        #expect(try Self.length("\(volumes)/volume-copy.raw") == 3 << 30)

        for id in ["older", "clone", "restored", "copy"] { try await driver.delete(id) }
        try await driver.deleteSnapshot("kept")
        let left = try FileManager.default.contentsOfDirectory(atPath: volumes)
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
