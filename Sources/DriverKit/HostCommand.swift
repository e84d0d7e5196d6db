import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program of the host (`qemu-img`, `ip`, `genisoimage`) and waits for it off the
/// cooperative pool. A non-zero exit is a `DriverError.failed` carrying the program's own words.
/// The child gets no descriptor of Martlet's but its output files: a qemu that outlives Martlet
/// must not keep its listening sockets open.
public enum HostCommand {
    @discardableResult
    public static func run(_ arguments: [String], failure: (String) -> DriverError = { .failed($0) }) async throws -> String {
        let result = try await output(arguments)
        guard result.status == 0 else {
            let said = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw failure("\(URL(fileURLWithPath: arguments[0]).lastPathComponent) failed: \(said.isEmpty ? "exit \(result.status)" : said)")
        }
        return result.stdout
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func output(_ arguments: [String]) async throws -> Result {
        let program = try resolve(arguments[0])
        return try await Blocking.run { try spawnAndWait(program, arguments) }
    }

    /// posix_spawn with output into unlinked temporary files (no pipe a daemonizing child could hold
    /// open) and every other descriptor closed, then a blocking waitpid.
    private static func spawnAndWait(_ program: String, _ arguments: [String]) throws -> Result {
        let out = try scratchFile(), err = try scratchFile()
        defer { close(out); close(err) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        posix_spawn_file_actions_adddup2(&actions, err, 2)
        _ = closeFrom?(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling in the child (Martlet ignores SIGPIPE), and its own process group
        // so a Ctrl-C meant for Martlet does not reach a guest.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw DriverError.failed("cannot run \(program): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exit, stdout: read(out), stderr: read(err))
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does not export.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: CloseFrom.self)
    }

    private static func scratchFile() throws -> Int32 {
        var template = Array("/tmp/martlet-command-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw DriverError.failed("cannot make a temporary file: errno \(errno)") }
        unlink(template)
        return fd
    }

    private static func read(_ fd: Int32) -> String {
        lseek(fd, 0, SEEK_SET)
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            data += chunk[0..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The program's path: as given when it has a slash, else the first match on PATH (and the sbin folders, where `ip` lives).
    public static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(program)") {
            return "\(folder)/\(program)"
        }
        throw DriverError.unsupported("\(program) is not installed on this host")
    }
}
