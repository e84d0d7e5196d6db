import DriverKit
import Foundation

/// The backend's files under its runtime folder, which its daemons (dnsmasq as `nobody`, radvd)
/// read at any moment: written whole or not at all, in folders everyone may read.
enum RuntimeFiles {
    /// Writes `data` to `path` through a temporary file and a rename, readable by everyone.
    static func write(_ data: Data, to path: String) throws {
        try makeReadable((path as NSString).deletingLastPathComponent)
        let temporary = path + ".new"
        try data.write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else { throw DriverError.failed("cannot rename \(temporary): errno \(errno)") }
    }

    /// Writes `data` to `path` unless it holds it already; true when it replaced other content
    /// (which a running daemon does not take by itself).
    static func replace(_ path: String, with data: Data) throws -> Bool {
        let before = FileManager.default.contents(atPath: path)
        guard before != data else { return false }
        try write(data, to: path)
        return before != nil
    }

    /// Makes `path` and the folders above it that are missing, readable by everyone (whatever the umask).
    static func makeReadable(_ path: String) throws {
        var missing: [String] = []
        var folder = path
        while !FileManager.default.fileExists(atPath: folder), folder != "/" {
            missing.append(folder)
            folder = (folder as NSString).deletingLastPathComponent
        }
        for folder in missing.reversed() {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder)
        }
    }

    /// The files of a folder, without those being written.
    static func names(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasSuffix(".new") }
    }
}
