import DriverKit
import Foundation
import MartletCore
#if canImport(Glibc)
import Glibc
#endif

/// A server's folder under `<data-dir>/qemu/instances/<id>`: everything the host keeps of it. The
/// folder is the truth about the server on this host; a restart finds its qemu again through it.
struct InstanceFolder: Sendable {
    let path: String
    /// Where its sockets are: a short path (a socket's path has at most 107 bytes) that goes with
    /// the host's processes when it reboots.
    let sockets: String

    init(root: String, id: String, sockets: String) {
        path = "\(root)/\(id)"
        self.sockets = "\(sockets)/\(id)"
    }

    var spec: String { "\(path)/spec.json" }
    var disk: String { "\(path)/disk.qcow2" }
    var ephemeral: String { "\(path)/disk.eph0.qcow2" }
    var swap: String { "\(path)/disk.swap.qcow2" }
    var rescueDisk: String { "\(path)/disk.rescue.qcow2" }
    var configDrive: String { "\(path)/config.iso" }
    var consoleLog: String { "\(path)/console.log" }
    var qmpSocket: String { "\(sockets)/qmp.sock" }
    var serialSocket: String { "\(sockets)/serial.sock" }
    var vncSocket: String { "\(sockets)/vnc.sock" }
    var pidFile: String { "\(path)/qemu.pid" }
    /// Present while a snapshot holds the guest paused, so a restart knows to let it run again.
    var snapshotPause: String { "\(path)/snapshot.paused" }
    /// A new name for a snapshot's copy of the disk.
    func snapshotCopy() -> String { "\(path)/snapshot-\(UUID().uuidString).qcow2" }
    /// Copies a snapshot cut off by a crash left behind.
    var snapshotCopies: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".qcow2") }.map { "\(path)/\($0)" }
    }
    /// The memory of a suspended server; its presence means suspended.
    var suspendedState: String { "\(path)/memory.state" }

    var exists: Bool { FileManager.default.fileExists(atPath: spec) }
    var rescued: Bool { FileManager.default.fileExists(atPath: rescueDisk) }
    var suspended: Bool { FileManager.default.fileExists(atPath: suspendedState) }

    func create() throws {
        for folder in [path, sockets] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    func remove() throws {
        for folder in [sockets, path] where FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.removeItem(atPath: folder)
        }
    }

    func load() throws -> InstanceSpec {
        try JSONDecoder().decode(InstanceSpec.self, from: Data(contentsOf: URL(fileURLWithPath: spec)))
    }

    func save(_ instance: InstanceSpec) async throws {
        let bytes = try JSONEncoder().encode(instance)
        try await DurableFile.write(BufferChunks(bytes: Array(bytes)), to: spec, temporary: spec + ".tmp")
    }

    /// The qemu process serving this folder, if one runs: the pid file's process, when its command
    /// line names this folder (a pid reused by another program is not ours).
    var runningPID: pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let arguments = String(decoding: cmdline, as: UTF8.self)
        guard arguments.contains(qmpSocket), Self.isAlive(pid) else { return nil }
        return pid
    }

    /// Whether the process still holds anything: a zombie leader whose other threads still run (qemu
    /// tearing down) holds its files and locks; a lone zombie (not yet reaped) holds nothing.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.distance(from: close, to: stat.endIndex) > 2 else { return false }
        guard stat[stat.index(close, offsetBy: 2)] == "Z" else { return true }
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? 0) > 1
    }
}
