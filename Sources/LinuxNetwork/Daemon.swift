import Foundation

/// A daemon the backend started (dnsmasq, radvd), known by the pid file it writes. The process
/// there is taken for it only when it runs `program` with `marker` (its own folder) on its command
/// line: a pid reused by something else is not the backend's to signal.
struct Daemon {
    let program: String
    let pidFile: String
    let marker: String

    var pid: pid_t? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
              cmdline.hasPrefix(program + "\0") || cmdline.contains("/\(program)\0"), cmdline.contains(marker),
              Self.alive(pid) else { return nil }
        return pid
    }

    /// Ends it (SIGTERM, then SIGKILL after 2 s) and removes its pid file.
    func stop() async {
        if let pid {
            kill(pid, SIGTERM)
            for _ in 0..<100 where Self.alive(pid) { try? await Task.sleep(for: .milliseconds(20)) }
            if Self.alive(pid) { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: pidFile)
    }

    private static func alive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 && (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first != "Z"
    }
}
