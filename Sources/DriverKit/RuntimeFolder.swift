import Crypto
import Foundation

/// Where a driver keeps what lives as long as the host's processes do (sockets, pid files,
/// dnsmasq's files): `/run/<kind>/<first 6 bytes of the data folder's SHA-256>`, or the temporary
/// folder when /run is not writable. The path is short (a socket's has at most 107 bytes).
public enum RuntimeFolder {
    /// `kind`: `martlet` for what only root may reach (the guests' consoles), another name for
    /// what a helper that drops its privileges must read (dnsmasq's hosts).
    public static func path(dataDir: String, kind: String = "martlet") -> String {
        let absolute = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        let tag = SHA256.hash(data: Data(absolute.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        let base = FileManager.default.isWritableFile(atPath: "/run") ? "/run/\(kind)" : NSTemporaryDirectory() + "\(kind)-run"
        return "\(base)/\(tag)"
    }
}
