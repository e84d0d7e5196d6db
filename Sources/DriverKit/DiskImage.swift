import Foundation

/// `qemu-img`: what a disk file is, and the disks a server is made of.
public enum DiskImage {
    public struct Info: Sendable {
        public var format: String
        public var virtualSize: Int64
        public var backingFile: String?
        /// A qcow2's external data file: like a backing file, it would let an image read a host file.
        public var dataFile: String?
        /// A VMDK whose extents live in other files (a descriptor naming any host file, CVE-2022-47951).
        public var externalExtents = false

        /// Whether the image names another file of the host (a backing or data file, VMDK extents
        /// elsewhere): an uploaded image may not.
        public var namesHostFile: Bool { backingFile != nil || dataFile != nil || externalExtents }
    }

    /// The formats an uploaded image may be (qemu's names): others are refused before any conversion.
    public static let uploadableFormats: Set<String> = ["raw", "qcow2", "vmdk", "vdi", "vpc", "vhdx"]

    public static func info(_ path: String) async throws -> Info {
        // -U: a running server's disk is read without taking qemu's lock.
        let json = try await HostCommand.run(["qemu-img", "info", "-U", "--output=json", path]) {
            .invalidInput("The image is not a readable disk image (\($0)).")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let format = object["format"] as? String, let size = (object["virtual-size"] as? NSNumber)?.int64Value else {
            throw DriverError.invalidInput("qemu-img could not describe the image.")
        }
        let specific = (object["format-specific"] as? [String: Any])?["data"] as? [String: Any]
        var info = Info(format: format, virtualSize: size, backingFile: object["backing-filename"] as? String,
                        dataFile: specific?["data-file"] as? String)
        if format == "vmdk" {
            // Only a single-file VMDK (its one extent the file itself) is self-contained.
            let extents = (specific?["extents"] as? [[String: Any]]) ?? []
            let kind = specific?["create-type"] as? String ?? ""
            let own = URL(fileURLWithPath: path).standardizedFileURL.path
            info.externalExtents = !["monolithicSparse", "streamOptimized"].contains(kind)
                || extents.contains { URL(fileURLWithPath: $0["filename"] as? String ?? "").standardizedFileURL.path != own }
        }
        return info
    }

    /// Refuses a qcow2 whose metadata is corrupt or cut short.
    public static func check(_ path: String) async throws {
        try await HostCommand.run(["qemu-img", "check", "-q", "-f", "qcow2", path]) { .invalidInput("The image is corrupt (\($0)).") }
    }

    /// A qcow2 overlay on `base`, `sizeGB` large (0 keeps the base's size).
    public static func overlay(_ path: String, on base: String, sizeGB: Int) async throws {
        var arguments = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, path]
        if sizeGB > 0 { arguments.append("\(sizeGB)G") }
        try await HostCommand.run(arguments)
    }

    /// An empty qcow2 disk (ephemeral or swap).
    public static func blank(_ path: String, megabytes: Int) async throws {
        try await HostCommand.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "\(megabytes)M"])
    }

    public static func grow(_ path: String, toGB sizeGB: Int) async throws {
        guard sizeGB > 0, try await info(path).virtualSize < Int64(sizeGB) << 30 else { return }
        try await HostCommand.run(["qemu-img", "resize", "-q", path, "\(sizeGB)G"])
    }

    /// A standalone copy of a disk and what it stands on (a snapshot); `shared` reads a disk a running qemu holds.
    public static func flatten(_ path: String, into copy: String, shared: Bool) async throws {
        var arguments = ["qemu-img", "convert", "-q", "-O", "qcow2"]
        if shared { arguments.append("-U") }
        try await HostCommand.run(arguments + [path, copy])
    }

    /// qemu's name of an Image service disk format.
    public static func qemuFormat(_ diskFormat: String) -> String { diskFormat == "vhd" ? "vpc" : diskFormat }
}
