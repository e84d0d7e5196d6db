import DriverKit
import Foundation
import Synchronization

/// A listening TCP socket made inside a named network namespace, for a server that runs in this
/// process: a socket stays in the namespace it was made in, whichever thread serves it. The
/// namespace is entered by a thread of its own, which ends after (the process's other threads,
/// and the event loops, never leave theirs).
enum NamespaceSocket {
    /// `setns(2)`, which the Glibc module does not declare (it needs `_GNU_SOURCE`).
    private typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32
    private static let cloneNewNet: Int32 = 0x4000_0000

    /// The namespace's identity: a namespace deleted and made again under the same name is another.
    static func identity(_ namespace: String) -> UInt64? {
        var info = stat()
        guard stat("/run/netns/\(namespace)", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    /// A non-blocking IPv4 socket bound to `address:port` in `namespace`, listening.
    static func listen(in namespace: String, address: String, port: UInt16) throws -> Int32 {
        let result = Mutex<Result<Int32, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            result.withLock { $0 = Result { try enterAndListen(namespace, address: address, port: port) } }
            done.signal()
        }
        thread.start()
        done.wait()
        return try result.withLock { $0! }.get()
    }

    private static func enterAndListen(_ namespace: String, address: String, port: UInt16) throws -> Int32 {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { throw DriverError.failed("setns is not available") }
        let setns = unsafeBitCast(symbol, to: SetNamespace.self)
        let target = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw DriverError.transient("namespace \(namespace) is not there") }
        defer { close(target) }
        guard setns(target, cloneNewNet) == 0 else { throw DriverError.failed("cannot enter namespace \(namespace): errno \(errno)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DriverError.failed("socket: errno \(errno)") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &sin.sin_addr)
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            let error = errno
            close(fd)
            throw DriverError.transient("cannot listen on \(address):\(port) in \(namespace): errno \(error)")
        }
        return fd
    }
}
