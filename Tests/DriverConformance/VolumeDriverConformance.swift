import DriverKit
import MartletCore

/// What every `VolumeDriver` must do. Each check makes its own volumes and removes them.
public enum VolumeDriverConformance {
    static func id(_ name: String) -> String { "conformance-\(name)-\(UInt32.random(in: 0...UInt32.max))" }

    public static let checks: [ConformanceCheck<any VolumeDriver>] = [
        .init("create is idempotent, delete is idempotent") { driver in
            let volume = VolumeSpec(id: id("create"), sizeGB: 1)
            try await driver.create(volume)
            try await driver.create(volume)
            try await driver.delete(volume.id)
            try await driver.delete(volume.id)
            try await expectDriverError("read after delete", isNotFound) { _ = try await driver.read(volume.id, format: "raw") }
        },
        .init("extend grows and never shrinks") { driver in
            let volume = VolumeSpec(id: id("extend"), sizeGB: 1)
            try await driver.create(volume)
            try await driver.extend(volume.id, sizeGB: 2)
            try await expectDriverError("shrink", { if case .invalidInput = $0 { return true } else { return false } }) {
                try await driver.extend(volume.id, sizeGB: 1)
            }
            try await driver.delete(volume.id)
        },
        .init("copies come from volumes and snapshots that exist") { driver in
            let source = VolumeSpec(id: id("source"), sizeGB: 1)
            let snapshot = id("snap")
            try await driver.create(source)
            try await driver.createSnapshot(snapshot, of: source.id)
            try await driver.createSnapshot(snapshot, of: source.id)
            let clone = VolumeSpec(id: id("clone"), sizeGB: 1, source: .volume(source.id))
            let restored = VolumeSpec(id: id("restored"), sizeGB: 2, source: .snapshot(snapshot))
            try await driver.create(clone)
            try await driver.create(restored)
            try await expectDriverError("copy of a missing volume", isNotFound) {
                try await driver.create(VolumeSpec(id: id("orphan"), sizeGB: 1, source: .volume(id("missing"))))
            }
            try await expect(try await byteCount(driver.read(clone.id, format: "raw")) > 0, "a clone streams no bytes")
            for volume in [clone.id, restored.id] { try await driver.delete(volume) }
            try await driver.deleteSnapshot(snapshot)
            try await driver.deleteSnapshot(snapshot)
            try await driver.delete(source.id)
        },
        .init("connect says how a host opens it, and both ends are idempotent") { driver in
            let volume = VolumeSpec(id: id("connect"), sizeGB: 1)
            try await driver.create(volume)
            let first = try await driver.connect(volume.id, host: "conformance-host")
            let again = try await driver.connect(volume.id, host: "conformance-host")
            try expect(!first.driverVolumeType.isEmpty, "a connection without a driver_volume_type")
            try expect(first == again, "connecting twice gave two connections")
            try await driver.disconnect(volume.id, host: "conformance-host")
            try await driver.disconnect(volume.id, host: "conformance-host")
            try await driver.delete(volume.id)
            try await expectDriverError("connect a missing volume", isNotFound) { _ = try await driver.connect(volume.id, host: "conformance-host") }
        },
        .init("bytes written read back the same, and copies keep them") { driver in
            let volume = VolumeSpec(id: id("write"), sizeGB: 1)
            try await driver.create(volume)
            let pattern = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            try await driver.write(volume.id, raw: BufferChunks(bytes: pattern))
            try expect(try await prefix(driver.read(volume.id, format: "raw"), pattern.count) == pattern, "the written bytes did not read back")
            let clone = VolumeSpec(id: id("write-clone"), sizeGB: 1, source: .volume(volume.id))
            try await driver.create(clone)
            try expect(try await prefix(driver.read(clone.id, format: "raw"), pattern.count) == pattern, "a clone lost the written bytes")
            try await expectDriverError("write to a missing volume", isNotFound) { try await driver.write(id("missing"), raw: BufferChunks(bytes: [1])) }
            for id in [clone.id, volume.id] { try await driver.delete(id) }
        },
        .init("a revert gives the volume its snapshot's bytes back") { driver in
            let volume = VolumeSpec(id: id("revert"), sizeGB: 1), snapshot = id("revert-snap")
            let before = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }, after = [UInt8](repeating: 0xAB, count: 64 << 10)
            try await driver.create(volume)
            try await driver.write(volume.id, raw: BufferChunks(bytes: before))
            try await driver.createSnapshot(snapshot, of: volume.id)
            try await driver.write(volume.id, raw: BufferChunks(bytes: after))
            try expect(try await prefix(driver.read(volume.id, format: "raw"), after.count) == after, "the second write did not read back")
            try await driver.revert(volume.id, to: snapshot)
            try await driver.revert(volume.id, to: snapshot)
            try expect(try await prefix(driver.read(volume.id, format: "raw"), before.count) == before, "the revert did not bring the snapshot's bytes back")
            try await expectDriverError("revert to a missing snapshot", isNotFound) { try await driver.revert(volume.id, to: id("missing")) }
            try await driver.deleteSnapshot(snapshot)
            try await driver.delete(volume.id)
        },
        .init("a re-image writes a source over the volume, which keeps its size") { driver in
            let volume = VolumeSpec(id: id("reimage"), sizeGB: 2), snapshot = id("reimage-snap")
            try await driver.create(volume)
            let first = (0..<(64 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
            try await driver.write(volume.id, raw: BufferChunks(bytes: first))
            try await driver.createSnapshot(snapshot, of: volume.id)
            try await driver.write(volume.id, raw: BufferChunks(bytes: Array(repeating: 9, count: 4096)))
            try await driver.reimage(volume.id, from: .snapshot(snapshot))
            try expect(try await prefix(driver.read(volume.id, format: "raw"), first.count) == first, "the re-image did not write the snapshot's bytes")
            try await expectDriverError("re-image from a missing snapshot", isNotFound) { try await driver.reimage(volume.id, from: .snapshot(id("missing"))) }
            try expect(try await prefix(driver.read(volume.id, format: "raw"), first.count) == first, "a failed re-image changed the volume")
            try await expectDriverError("re-image of a missing volume", isNotFound) { try await driver.reimage(id("missing"), from: .blank) }
            try await driver.deleteSnapshot(snapshot)
            try await driver.delete(volume.id)
        },
        .init("a volume the backend holds is listed and taken over under another ID") { driver in
            let volume = VolumeSpec(id: id("held"), sizeGB: 1), taken = id("taken")
            try await driver.create(volume)
            let pattern = Array("held bytes".utf8)
            try await driver.write(volume.id, raw: BufferChunks(bytes: pattern))
            let held = try await driver.backendVolumes().first { $0.id == volume.id }
            try expect(held?.sizeGB == 1 && held?.name.isEmpty == false, "the backend does not list volume \(volume.id): \(String(describing: held))")
            try await driver.manage(held!.name, as: taken)
            try await driver.manage(held!.name, as: taken)
            try expect(try await prefix(driver.read(taken, format: "raw"), pattern.count) == pattern, "the volume taken over lost its bytes")
            let ids = try await driver.backendVolumes().map(\.id)
            try expect(ids.contains(taken) && !ids.contains(volume.id), "after a manage the backend lists \(ids)")
            try await expectDriverError("manage of a name the backend does not hold", isNotFound) { try await driver.manage("volume-\(id("missing"))", as: id("other")) }
            try await driver.delete(taken)
        },
        .init("capacity is consistent") { driver in
            let capacity = try await driver.capacity()
            try expect(capacity.totalGB > 0 && capacity.freeGB >= 0 && capacity.freeGB <= capacity.totalGB, "capacity \(capacity)")
        },
    ]
}
