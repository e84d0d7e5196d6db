import DriverKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A short conversation with one qemu over its QMP socket: connect, leave capabilities
/// negotiation, run commands, hang up. qemu serves one QMP client at a time, so callers hold the
/// machine's lock around it.
final class QMP: @unchecked Sendable {
    private let fd: Int32
    private var buffer = Data()

    /// Runs `body` with a connection to the socket at `path`, off the cooperative pool.
    static func session<T: Sendable>(_ path: String, timeout: Int = 10, _ body: @escaping @Sendable (QMP) throws -> T) async throws -> T {
        try await Blocking.run {
            let qmp = try QMP(path: path, timeout: timeout)
            defer { close(qmp.fd) }
            return try body(qmp)
        }
    }

    private init(path: String, timeout: Int) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DriverError.failed("cannot open a socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw DriverError.failed("QMP socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw DriverError.transient("cannot reach qemu's QMP socket \(path): errno \(code)")
        }
        _ = try readMessage()  // the greeting
        _ = try execute("qmp_capabilities")
    }

    /// Runs one command; its `return` value, or the error qemu gave.
    @discardableResult
    func execute(_ command: String, _ arguments: [String: Any]? = nil) throws -> Any {
        var message: [String: Any] = ["execute": command]
        if let arguments { message["arguments"] = arguments }
        var line = try JSONSerialization.data(withJSONObject: message)
        line.append(0x0A)
        let sent = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == line.count else { throw DriverError.transient("qemu's QMP socket closed while sending \(command)") }
        while true {
            let reply = try readMessage()
            if reply["event"] != nil { continue }
            if let error = reply["error"] as? [String: Any] {
                throw DriverError.failed("qemu refused \(command): \(error["desc"] as? String ?? "\(error)")")
            }
            return reply["return"] ?? [:]
        }
    }

    private func readMessage() throws -> [String: Any] {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
                return object
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { throw DriverError.transient("qemu's QMP socket closed or timed out") }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
