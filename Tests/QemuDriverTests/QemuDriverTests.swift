import DriverConformance
import DriverKit
import Foundation
import MartletCore
@testable import QemuDriver
import Testing

/// The qemu driver against real qemu (TCG), real qemu-img and real taps. They need root and qemu,
/// and make taps, so they run only in the stage that provides a network namespace of their own
/// (`MARTLET_QEMU_TESTS=1`, see scripts/test.sh).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_QEMU_TESTS"] == "1"), .serialized)
struct QemuDriverTests {
    static let host = "qemu-test"
    static let images = TestImages()
    static let driver: QemuHypervisor = {
        var settings = QemuSettings(dataDir: images.folder + "/data")
        settings.hostName = host
        settings.accelerator = "tcg"
        // The boot-sector guest has no ACPI: a short grace keeps power-offs quick.
        settings.shutdownTimeout = .seconds(1)
        return QemuHypervisor(settings, accelerator: "tcg", images: images, logger: .init(label: "test"))
    }()

    static func spec(_ image: InstanceImage = images.bootSector, diskGB: Int = 1) -> InstanceSpec {
        InstanceSpec(id: "t-\(UInt32.random(in: 0...UInt32.max))", name: "guest", host: host, vcpus: 1, memoryMB: 32, diskGB: diskGB, image: image)
    }

    @Test(arguments: HypervisorConformance.checks)
    func conformance(_ check: ConformanceCheck<HypervisorFixture>) async throws {
        try await check.run(HypervisorFixture(driver: Self.driver, host: Self.host, template: Self.spec()))
        #expect(Self.leftovers().isEmpty, "left behind: \(Self.leftovers())")
    }

    @Test func theProbeTellsARunningAcceleratorFromOneThatDoesNotRun() async throws {
        let folder = Self.images.folder + "/probe"
        #expect(await Accelerator.runs(binary: try HostCommand.resolve("qemu-system-x86_64"), scratch: folder, accelerator: "tcg"))
        #expect(await !Accelerator.runs(binary: "/bin/false", scratch: folder, accelerator: "tcg"))
    }

    @Test func theGuestWritesToTheConsoleAndTheServerOutlivesItsDriver() async throws {
        let spec = Self.spec()
        try await Self.driver.spawn(spec)
        try await waitFor { try await Self.driver.consoleOutput(spec.id, host: Self.host, lines: nil).contains(TestImages.bootMessage) }
        // A second driver over the same folder (Martlet restarted) finds the running qemu.
        let restarted = QemuHypervisor(Self.driver.settings, accelerator: "tcg", images: Self.images, logger: .init(label: "test"))
        #expect(await restarted.powerState(spec.id, host: Self.host) == .running)
        #expect(restarted.instanceIDs().contains(spec.id))
        let diagnostics = try await restarted.diagnostics(spec.id, host: Self.host)
        #expect(diagnostics["num_cpus"] == "1" && diagnostics["vda_read"] != nil, "\(diagnostics)")
        try await restarted.destroy(spec.id, host: Self.host)
        #expect(Self.leftovers().isEmpty)
    }

    @Test func aSnapshotCutOffByACrashLeavesNeitherAPausedGuestNorItsCopy() async throws {
        let spec = Self.spec()
        try await Self.driver.spawn(spec)
        let folder = Self.driver.folder(spec.id)
        // Where a crash between the snapshot's `stop` and `cont` leaves things.
        try Data().write(to: URL(fileURLWithPath: folder.snapshotPause))
        try await Self.driver.setPower(spec.id, host: Self.host, .pause)
        let copy = folder.snapshotCopy()
        try Data("partial".utf8).write(to: URL(fileURLWithPath: copy))
        #expect(await Self.driver.powerState(spec.id, host: Self.host) == .paused)
        await Self.driver.finishInterruptedSnapshots()
        #expect(await Self.driver.powerState(spec.id, host: Self.host) == .running)
        #expect(folder.snapshotCopies.isEmpty && !FileManager.default.fileExists(atPath: folder.snapshotPause))
        try await Self.driver.destroy(spec.id, host: Self.host)
    }

    @Test func aCachedImageIsEvictedOnlyWhenNoServerUsesItAndItIsOld() async throws {
        let spec = Self.spec()
        try await Self.driver.spawn(spec)
        let base = "\(Self.driver.settings.imagesFolder)/\(spec.image.id).qcow2"
        #expect(FileManager.default.fileExists(atPath: base))
        await Self.driver.cache.evict(olderThan: 0, keeping: [spec.image.id])
        #expect(FileManager.default.fileExists(atPath: base), "an image a server uses was evicted")
        try await Self.driver.destroy(spec.id, host: Self.host)
        await Self.driver.cache.evict(olderThan: 3600, keeping: [])
        #expect(FileManager.default.fileExists(atPath: base), "an image used a moment ago was evicted")
        await Self.driver.cache.evict(olderThan: 0, keeping: [])
        #expect(!FileManager.default.fileExists(atPath: base), "an old image no server uses was kept")
    }

    @Test func aFetchCutOffByACrashDoesNotStopTheNextOne() async throws {
        var settings = Self.driver.settings
        settings.dataDir = Self.images.folder + "/data-crashed-fetch"
        let spec = Self.spec()
        try FileManager.default.createDirectory(atPath: settings.imagesFolder, withIntermediateDirectories: true)
        // What a kill -9 in the middle of a fetch leaves.
        for suffix in [".download.part", ".download", ".staged"] {
            try Data("partial".utf8).write(to: URL(fileURLWithPath: "\(settings.imagesFolder)/\(spec.image.id)\(suffix)"))
        }
        let restarted = QemuHypervisor(settings, accelerator: "tcg", images: Self.images, logger: .init(label: "test"))
        try await restarted.spawn(spec)
        #expect(try FileManager.default.contentsOfDirectory(atPath: settings.imagesFolder) == ["\(spec.image.id).qcow2"])
        try await restarted.destroy(spec.id, host: Self.host)
    }

    @Test func aQemuThatDiesIsSeenAsCrashed() async throws {
        let spec = Self.spec()
        try await Self.driver.spawn(spec)
        let pid = try #require(Self.driver.folder(spec.id).runningPID)
        kill(pid, SIGKILL)
        try await waitFor { await Self.driver.powerState(spec.id, host: Self.host) == .crashed }
        try await Self.driver.setPower(spec.id, host: Self.host, .start)
        #expect(await Self.driver.powerState(spec.id, host: Self.host) == .running)
        try await Self.driver.destroy(spec.id, host: Self.host)
    }

    /// A multiattach volume is plugged into two running guests, each qemu letting the other write
    /// (`share-rw`); a volume that is not shared stays locked to its first guest, and a qcow2 one
    /// marked shared is refused before qemu is asked. (The boot-sector guest has no ACPI to answer
    /// an unplug: the real guests of the acceptance tests detach.)
    @Test func aSharedRawVolumeIsWrittenByTwoGuestsAndOthersAreNot() async throws {
        let (first, second) = (Self.spec(), Self.spec())
        for spec in [first, second] { try await Self.driver.spawn(spec) }
        let folder = Self.images.folder
        for (name, format) in [("shared", "raw"), ("single", "raw"), ("older", "qcow2")] {
            try await HostCommand.run(["qemu-img", "create", "-q", "-f", format, "\(folder)/\(name).\(format)", "16M"])
        }
        func volume(_ name: String, _ format: String, shared: Bool) -> InstanceVolume {
            var data = ["path": "\(folder)/\(name).\(format)", "format": format]
            if shared { data["multiattach"] = "true" }
            return InstanceVolume(volumeID: "\(name)-volume", device: "/dev/vdb", connection: VolumeConnection(driverVolumeType: "file", data: data))
        }
        /// Whether the server's qemu has the file open.
        func holds(_ spec: InstanceSpec, _ path: String) throws -> Bool {
            let pid = try #require(Self.driver.folder(spec.id).runningPID)
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == path }
        }

        let shared = volume("shared", "raw", shared: true)
        for spec in [first, second] { try await Self.driver.attachVolume(spec.id, host: Self.host, volume: shared) }
        #expect(try holds(first, "\(folder)/shared.raw") && holds(second, "\(folder)/shared.raw"))

        let single = volume("single", "raw", shared: false)
        try await Self.driver.attachVolume(first.id, host: Self.host, volume: single)
        await #expect(throws: DriverError.self) { try await Self.driver.attachVolume(second.id, host: Self.host, volume: single) }
        #expect(try !holds(second, "\(folder)/single.raw"), "a disk qemu refused stayed open")
        #expect(try Self.driver.folder(second.id).load().volumes.map(\.volumeID) == [shared.volumeID])

        await #expect(throws: DriverError.self) { try await Self.driver.attachVolume(first.id, host: Self.host, volume: volume("older", "qcow2", shared: true)) }
        for spec in [first, second] { try await Self.driver.destroy(spec.id, host: Self.host) }
        #expect(Self.leftovers().isEmpty, "left behind: \(Self.leftovers())")
    }

    @Test func aResizeOnTheSameHostGrowsTheDiskAndKeepsIt() async throws {
        var spec = Self.spec()
        try await Self.driver.spawn(spec)
        spec.diskGB = 2
        spec.memoryMB = 48
        try await Self.driver.spawn(spec)
        let folder = Self.driver.folder(spec.id)
        #expect(try await DiskImage.info(folder.disk).virtualSize == 2 << 30)
        #expect(try folder.load().memoryMB == 48)
        #expect(await Self.driver.powerState(spec.id, host: Self.host) == .running)
        try await Self.driver.destroy(spec.id, host: Self.host)
    }

    @Test(arguments: BadImage.allCases)
    func aBadImageFailsClearlyAndLeavesNothing(_ bad: BadImage) async throws {
        let spec = Self.spec(Self.images.bad(bad))
        await #expect(throws: DriverError.self) { try await Self.driver.spawn(spec) }
        #expect(Self.leftovers().isEmpty, "left behind: \(Self.leftovers())")
        #expect(!FileManager.default.fileExists(atPath: "\(Self.driver.settings.imagesFolder)/\(spec.image.id).qcow2"))
    }

    @Test func aFlavorSmallerThanTheImageIsRefused() async throws {
        var image = Self.images.bootSector
        image.minDisk = 5
        let spec = Self.spec(image, diskGB: 1)
        await #expect(throws: DriverError.self) { try await Self.driver.spawn(spec) }
        #expect(Self.leftovers().isEmpty)
    }

    /// The data folder on a small tmpfs, filled to the last few kilobytes (the stage runs in a mount
    /// namespace of its own, so the mount goes with it).
    @Test func aFullDiskFailsTheSpawnClearlyAndLeavesNothing() async throws {
        let mount = Self.images.folder + "/full-disk"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try await HostCommand.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount])
        var failure: (any Error)?
        do {
            var settings = QemuSettings(dataDir: mount + "/data")
            settings.hostName = Self.host
            let driver = QemuHypervisor(settings, accelerator: "tcg", images: Self.images, logger: .init(label: "test"))
            let free = try #require(try FileManager.default.attributesOfFileSystem(forPath: mount)[.systemFreeSize] as? NSNumber).int64Value
            try await HostCommand.run(["fallocate", "-l", "\(free - 8192)", mount + "/filler"])
            do {
                try await driver.spawn(Self.spec())
                Issue.record("a server spawned on a full disk")
            } catch {
                failure = error
            }
            #expect(driver.instanceIDs().isEmpty, "left behind: \(driver.instanceIDs())")
            #expect(Self.leftovers().filter { $0.hasPrefix("process") }.isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: settings.imagesFolder)) ?? []).isEmpty)
        }
        try await HostCommand.run(["umount", mount])
        let said = failure.map { "\($0)" } ?? "none"
        #expect(said.contains("No space left on device") && !said.contains(mount), "the error does not say the disk is full, or names a host path: \(said)")
    }

    @Test func qemuFailingToStartLeavesNoProcessTapOrFile() async throws {
        var image = Self.images.bootSector
        image.properties["hw_machine_type"] = "no-such-machine"
        var spec = Self.spec(image)
        spec.ports = [InstancePort(id: "badmachine-0000-4000-8000-000000000001", mac: "fa:16:3e:00:00:02", mtu: 1500)]
        do {
            try await Self.driver.spawn(spec)
            Issue.record("a bad machine type booted")
        } catch let error as DriverError {
            #expect(error.description.contains("unsupported machine type"), "\(error)")
        }
        #expect(Self.leftovers().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(spec.ports[0].deviceName)"))
    }

    @Test func aConfigDriveCarriesTheInstanceFiles() async throws {
        var spec = Self.spec()
        spec.configDrive = true
        spec.instanceFiles = ["openstack/latest/meta_data.json": Data(#"{"hostname":"probe"}"#.utf8)]
        try await Self.driver.spawn(spec)
        let iso = Self.driver.folder(spec.id).configDrive
        let label = try await HostCommand.run(["isoinfo", "-d", "-i", iso])
        #expect(label.contains("Volume id: config-2"))
        let listing = try await HostCommand.run(["isoinfo", "-R", "-f", "-i", iso])
        #expect(listing.contains("/openstack/latest/meta_data.json"))
        try await Self.driver.destroy(spec.id, host: Self.host)
    }

    /// Server folders and qemu processes of this suite still there.
    static func leftovers() -> [String] {
        let folders = Self.driver.instanceIDs()
        let processes = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard Int(pid) != nil, let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: cmdline, as: UTF8.self).contains(images.folder)
        }
        return folders + processes.map { "process \($0)" }
    }
}

func waitFor(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while try await !condition() {
        guard Date() < deadline else { throw DriverError.failed("condition not met in \(seconds) s") }
        try await Task.sleep(for: .milliseconds(200))
    }
}

enum BadImage: String, CaseIterable, Sendable {
    case truncated, wrongChecksum, notADiskImage, backingFile, corruptQcow2, formatMismatch
}

/// Images made on the spot: a one-sector guest that prints a line on the serial port and halts,
/// and broken ones.
final class TestImages: ImageSource, @unchecked Sendable {
    static let bootMessage = "boot-sector guest up"
    let folder: String
    let bootSector: InstanceImage
    private var files: [String: String] = [:]

    init() {
        folder = NSTemporaryDirectory() + "martlet-qemu-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8; next: lodsb; test al,al; jz done; out dx,al; jmp next; done: hlt; jmp done
        var sector: [UInt8] = [0x31, 0xC0, 0x8E, 0xD8, 0xBE, 0x15, 0x7C, 0xBA, 0xF8, 0x03, 0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE,
                               0xEB, 0xF8, 0xF4, 0xEB, 0xFD]
        sector += Array((Self.bootMessage + "\r\n").utf8) + [0]
        sector += [UInt8](repeating: 0, count: 510 - sector.count) + [0x55, 0xAA]
        let disk = Data(sector + [UInt8](repeating: 0, count: (1 << 20) - 512))
        bootSector = InstanceImage(id: "boot-sector", diskFormat: "raw", containerFormat: "bare", size: Int64(disk.count),
                                   checksum: Insecure.md5Hex(disk))
        files["boot-sector"] = write("boot-sector.raw", disk)
    }

    func imageData(id: String) async throws -> ByteChunks? { files[id].map { FileChunks(path: $0) } }

    func bad(_ kind: BadImage) -> InstanceImage {
        let id = "bad-\(kind.rawValue)-\(UInt32.random(in: 0...UInt32.max))"
        let good = try! Data(contentsOf: URL(fileURLWithPath: files["boot-sector"]!))
        var image = InstanceImage(id: id, diskFormat: "raw", containerFormat: "bare")
        switch kind {
        case .truncated:
            files[id] = write(id, good.prefix(4096))
            image.size = Int64(good.count)
        case .wrongChecksum:
            files[id] = write(id, good)
            image.checksum = String(repeating: "0", count: 32)
        case .notADiskImage:
            files[id] = write(id, good)
            image.diskFormat = "iso"
        case .backingFile:
            let path = "\(folder)/\(id).qcow2"
            _ = try? runSync(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", path])
            files[id] = path
            image.diskFormat = "qcow2"
        case .corruptQcow2:
            let path = "\(folder)/\(id).qcow2"
            _ = try? runSync(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", files["boot-sector"]!, path])
            var bytes = try! Data(contentsOf: URL(fileURLWithPath: path))
            // The L1 table offset (bytes 40-47) pointed past the end of the file.
            for i in 40..<48 { bytes[i] = 0x7F }
            files[id] = write(id, bytes)
            image.diskFormat = "qcow2"
        case .formatMismatch:
            files[id] = write(id, good)
            image.diskFormat = "qcow2"
        }
        return image
    }

    private func write(_ name: String, _ data: Data) -> String {
        let path = "\(folder)/\(name)"
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }
}

func runSync(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
}

import Crypto
extension Insecure {
    static func md5Hex(_ data: Data) -> String { Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined() }
}
