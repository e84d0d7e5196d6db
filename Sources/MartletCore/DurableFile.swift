import Foundation
import NIOCore
import NIOPosix

/// Sees each block of a `DurableFile.write` while that block is being written (to hash it).
public protocol BlockObserver: Sendable {
    mutating func observe(_ block: ByteBuffer) async
}

public enum DurableFileError: Error, Equatable, CustomStringConvertible {
    /// The body went past `limit` bytes.
    case tooLarge(limit: Int64)
    /// A system call on `path` failed with `errno`.
    case failed(path: String, errno: Int32)

    /// The system's words for it ("No space left on device"), without the path: what a user may see.
    public var reason: String {
        switch self {
        case .tooLarge(let limit): return "more than \(limit) bytes"
        case .failed(_, let errno): return String(cString: strerror(errno))
        }
    }

    public var description: String {
        if case .failed(let path, _) = self { return "\(reason): \(path)" }
        return reason
    }
}

/// A file that appears complete and durable under its name, or not at all: the body goes to a
/// temporary file in blocks, which is fsync'd, renamed into place, and its folder fsync'd (so
/// the name survives a crash too).
public enum DurableFile {
    /// Chunks are gathered into blocks of about this size, one write call each.
    public static let blockSize = 1 << 20
    /// Below this, observing a block is cheaper than starting a child task to overlap it with the write.
    static let overlapMinimum = 64 << 10

    /// Streams `body` to `path` through `temporary` (on the same file system), showing each block
    /// to `observer` while it is written; returns the byte count. Throws `DurableFileError.tooLarge`
    /// as soon as the body goes past `limit`. A body that fits in one block takes a single trip to
    /// the blocking-I/O pool (open, write, fsync, rename, fsync the folder); a larger one a trip
    /// per block. With `makesEmptyFile` false an empty body makes no file. On any failure or
    /// cancellation neither `temporary` nor `path` is left behind.
    @discardableResult
    public static func write<Body: AsyncSequence & Sendable, Observer: BlockObserver>(
        _ body: Body, to path: String, temporary: String, limit: Int64? = nil, makesEmptyFile: Bool = true,
        observer: inout Observer
    ) async throws -> Int64 where Body.Element == ByteBuffer {
        if let limit, limit < 0 { throw DurableFileError.tooLarge(limit: limit) }
        var iterator = body.makeAsyncIterator()
        var block = ByteBuffer()
        var ended = try await fill(&block, from: &iterator, written: 0, limit: limit)
        if ended, block.readableBytes == 0, !makesEmptyFile { return 0 }
        let draft = Draft(temporary: temporary, path: path)
        var offset: Int64 = 0
        do {
            while true {
                let data = block, at = offset, last = ended
                let step: @Sendable () throws -> Void = {
                    try draft.write(data, at: at)
                    if last { try draft.publish() }
                }
                if data.readableBytes >= overlapMinimum {
                    async let written: Void = BlockingPools.files.runIfActive(step)
                    await observer.observe(data)
                    try await written
                } else {
                    if data.readableBytes > 0 { await observer.observe(data) }
                    try await BlockingPools.files.runIfActive(step)
                }
                offset += Int64(data.readableBytes)
                if last { return offset }
                block.clear()
                ended = try await fill(&block, from: &iterator, written: offset, limit: limit)
            }
        } catch {
            if draft.created { await onPool { draft.remove() } }
            throw error
        }
    }

    /// `write` for a caller that needs no look at the bytes.
    @discardableResult
    public static func write<Body: AsyncSequence & Sendable>(
        _ body: Body, to path: String, temporary: String, limit: Int64? = nil, makesEmptyFile: Bool = true
    ) async throws -> Int64 where Body.Element == ByteBuffer {
        var none = Unobserved()
        return try await write(body, to: path, temporary: temporary, limit: limit, makesEmptyFile: makesEmptyFile, observer: &none)
    }

    /// Renames an already synced file into place (replacing what is there) and fsyncs the folder.
    public static func rename(_ source: String, to path: String) async throws {
        try await BlockingPools.files.runIfActive { try Draft.install(source, at: path) }
    }

    /// Adds chunks to `block` until it is full; true when the body has ended.
    static func fill<Iterator: AsyncIteratorProtocol>(
        _ block: inout ByteBuffer, from iterator: inout Iterator, written: Int64, limit: Int64?
    ) async throws -> Bool where Iterator.Element == ByteBuffer {
        while block.readableBytes < blockSize {
            guard var chunk = try await iterator.next() else { return true }
            if let limit, written + Int64(block.readableBytes + chunk.readableBytes) > limit {
                throw DurableFileError.tooLarge(limit: limit)
            }
            if block.readableBytes == 0 {
                // Taken as it came: a body in one chunk is never copied.
                block = chunk
            } else {
                // One allocation for the block, not one per doubling.
                if block.writableBytes < chunk.readableBytes {
                    block.reserveCapacity(minimumWritableBytes: max(chunk.readableBytes, blockSize - block.readableBytes))
                }
                block.writeBuffer(&chunk)
            }
        }
        return false
    }

    /// Runs `work` on the pool even in a cancelled task (`runIfActive` would skip it): clean-up must happen.
    static func onPool(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            BlockingPools.files.submit { _ in
                work()
                done.resume()
            }
        }
    }
}

/// The file being written. One party touches it at a time: the writing task, or the pool thread
/// that task is waiting for (the continuation's resume orders their accesses).
private final class Draft: @unchecked Sendable {
    let temporary: String
    let path: String
    var fd: Int32 = -1
    /// Whether `temporary` exists (or, once `renamed`, `path`) and is ours to remove on failure.
    var created = false
    var renamed = false

    init(temporary: String, path: String) {
        self.temporary = temporary
        self.path = path
    }

    func write(_ data: ByteBuffer, at offset: Int64) throws {
        if fd < 0 {
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Self.failure(temporary) }
            created = true
        }
        try data.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Self.failure(temporary)
                }
                done += n
            }
        }
    }

    func publish() throws {
        guard fsync(fd) == 0 else { throw Self.failure(temporary) }
        close(fd)
        fd = -1
        try Self.install(temporary, at: path) { renamed = true }
    }

    /// Renames `source` to `path`, making the folder if needed, and fsyncs the folder.
    static func install(_ source: String, at path: String, renamed: () -> Void = {}) throws {
        let folder = folder(of: path)
        try makeFolder(folder)
        guard rename(source, path) == 0 else { throw failure(path) }
        renamed()
        try sync(folder: folder)
    }

    /// Undoes a failed write: whatever name the bytes are under goes.
    func remove() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(renamed ? path : temporary)
    }

    static func failure(_ path: String) -> DurableFileError { .failed(path: path, errno: errno) }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `mkdir -p`, owner only.
    static func makeFolder(_ folder: String) throws {
        if mkdir(folder, 0o700) == 0 { return }
        switch errno {
        case EEXIST: return
        case ENOENT where folder != "/" && folder != ".":
            try makeFolder(self.folder(of: folder))
            guard mkdir(folder, 0o700) == 0 || errno == EEXIST else { throw failure(folder) }
        default: throw failure(folder)
        }
    }

    static func sync(folder: String) throws {
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw failure(folder) }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw failure(folder) }
    }
}

private struct Unobserved: BlockObserver {
    mutating func observe(_ block: ByteBuffer) async {}
}
