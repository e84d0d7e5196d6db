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
        let info = try await DiskImage.info("\(root)/volumes/volume-from-image.qcow2")
        #expect(info.format == "qcow2" && info.virtualSize == 1 << 30)
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
        #expect(try await DiskImage.info("\(root)/volumes/volume-from-image.qcow2").virtualSize == 1 << 30)
        for refused in ["large", "backed"] {
            await #expect(throws: DriverError.self) { try await driver.reimage("from-image", from: .image(refused)) }
        }
        var reimaged: [UInt8] = []
        for try await chunk in try await driver.read("from-image", format: "raw") where reimaged.isEmpty { reimaged = Array(chunk.readableBytesView.prefix(13)) }
        #expect(reimaged == Array("second-marker".utf8))
        try await driver.delete("from-image")
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(root)/volumes")
        #expect(left.isEmpty, "left behind: \(left)")
        await #expect(throws: DriverError.self) { _ = try await driver.read("../images/plain", format: "raw") }
    }
}
