import DriverKit

/// A volume as a virtio disk of a server, when its connection gives a path on this host.
enum VolumeDisk {
    static func path(_ volume: InstanceVolume) -> String? { volume.connection.data["device_path"] ?? volume.connection.data["path"] }
    static func nodeName(_ volume: InstanceVolume) -> String { "vol-\(volume.volumeID.prefix(11))" }
    static func deviceID(_ volume: InstanceVolume) -> String { "vdisk-\(volume.volumeID.prefix(11))" }
    /// The guest sees the volume ID (first 20 characters) as the disk's serial, as Nova arranges.
    static func serial(_ volume: InstanceVolume) -> String { String(volume.volumeID.prefix(20)) }
    static func format(_ volume: InstanceVolume) -> String { volume.connection.data["format"] ?? "raw" }
    /// Block Storage's read-only flag, carried in the connection.
    static func readOnly(_ volume: InstanceVolume) -> Bool { volume.connection.data["access_mode"] == "ro" }
    /// A multiattach volume: every guest's qemu opens it letting the others write too (`share-rw`),
    /// as libvirt's `<shareable/>`. Only a raw file can be shared: a format with its own tables
    /// (qcow2) would be corrupted by two writers, so it is refused.
    static func shared(_ volume: InstanceVolume) throws -> Bool {
        guard volume.connection.data["multiattach"] == "true" else { return false }
        guard format(volume) == "raw" else {
            throw DriverError.invalidInput("volume \(volume.volumeID) is a \(format(volume)) file, which guests cannot share; only raw volumes can be attached to several servers.")
        }
        return true
    }

    static func blockdev(_ volume: InstanceVolume, path: String) -> [String: any Sendable] {
        ["node-name": nodeName(volume), "driver": format(volume), "read-only": readOnly(volume),
         "file": ["driver": path.hasPrefix("/dev/") ? "host_device" : "file", "filename": path, "read-only": readOnly(volume)] as [String: any Sendable]]
    }

    static func device(_ volume: InstanceVolume) throws -> [String: any Sendable] {
        ["driver": "virtio-blk-pci", "drive": nodeName(volume), "id": deviceID(volume), "serial": serial(volume), "share-rw": try shared(volume)]
    }

    /// The same disk on a qemu command line (`bootIndex` for the volume a server boots from).
    static func arguments(_ volume: InstanceVolume, bootIndex: Int? = nil) throws -> [String] {
        guard let path = path(volume) else { return [] }
        return try ["-drive", "file=\(path),format=\(format(volume)),if=none,id=\(nodeName(volume))" + (readOnly(volume) ? ",readonly=on" : ""),
                "-device", "virtio-blk-pci,drive=\(nodeName(volume)),id=\(deviceID(volume)),serial=\(serial(volume))"
                    + (try shared(volume) ? ",share-rw=on" : "") + (bootIndex.map { ",bootindex=\($0)" } ?? "")]
    }
}
