import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore
import NIOCore
import NIOPosix
import NIOFileSystem

/// One stored file and its length; an object's bytes are its pieces in order.
struct Piece: Sendable, Equatable {
    var file: String
    var size: Int64
    /// Where in the file the piece starts (a ranged segment of a static large object).
    var offset: Int64 = 0
}

/// What `BlobStore.write` took in.
struct Written: Sendable {
    /// Nil for an empty body: no file is made.
    var piece: Piece?
    var size: Int64
    var md5: String
    /// Only when asked for (S3 signed payloads).
    var sha256: String?
}

enum BlobError: Error {
    case unreadable(String)
}

/// Object bytes as files under `<data-dir>/objects`, named by generated IDs (never by object
/// names): written to `tmp/`, fsync'd, renamed into `<first two hex digits>/`, and the folder
/// fsync'd (`DurableFile`), before the catalogue row that points at them commits.
struct BlobStore: Sendable {
    let root: FilePath
    let fileSystem = FileSystem(threadPool: BlockingPools.files)

    init(directory: URL) throws {
        root = FilePath(directory.path)
        try FileManager.default.createDirectory(atPath: directory.appendingPathComponent("tmp").path,
                                                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func path(_ file: String) -> FilePath { root.appending(String(file.prefix(2))).appending(file) }

    /// Streams `body` into a new file, hashing it; throws `DurableFileError.tooLarge` past `limit` bytes.
    func write<Body: AsyncSequence & Sendable>(_ body: Body, limit: Int64? = nil, sha256: Bool = false) async throws -> Written
        where Body.Element == ByteBuffer {
        let file = Self.newID()
        var hashes = Hashes(sha256: sha256 ? SHA256() : nil)
        let size = try await DurableFile.write(body, to: path(file).string, temporary: root.appending("tmp").appending(file).string,
                                               limit: limit, makesEmptyFile: false, observer: &hashes)
        return Written(piece: size == 0 ? nil : Piece(file: file, size: size), size: size,
                       md5: hashes.md5.finalize().hex, sha256: hashes.sha256?.finalize().hex)
    }

    /// MD5 and, for S3 signed payloads, SHA-256 of what is written.
    struct Hashes: BlockObserver {
        var md5 = Insecure.MD5()
        var sha256: SHA256?

        mutating func observe(_ block: ByteBuffer) async {
            block.withUnsafeReadableBytes { bytes in
                md5.update(bufferPointer: bytes)
                sha256?.update(bufferPointer: bytes)
            }
        }
    }

    /// Bytes already in memory (an archive member, a form field) as a new file.
    func write(bytes: [UInt8]) async throws -> Written {
        try await write(AsyncStream { $0.yield(ByteBuffer(bytes: bytes)); $0.finish() })
    }

    func folderPath(_ file: String) -> FilePath { root.appending(String(file.prefix(2))) }

    /// The bytes `range` of the concatenation of `pieces`, streamed.
    func read(_ pieces: [Piece], range: ClosedRange<Int64>) -> ResponseBody {
        ResponseBody(contentLength: Int(range.count)) { writer in
            try await stream(pieces, range, to: &writer)
            try await writer.finish(nil)
        }
    }

    func stream(_ pieces: [Piece], _ range: ClosedRange<Int64>, to writer: inout any ResponseBodyWriter) async throws {
        for (file, slice) in Self.slices(pieces, range) {
            let handle = try await fileSystem.openFile(forReadingAt: path(file))
            do {
                for try await chunk in handle.readChunks(in: slice, chunkLength: .mebibytes(1)) {
                    try await writer.write(chunk)
                }
                try await handle.close()
            } catch {
                try? await handle.close()
                throw error
            }
        }
    }

    /// A whole small object in one buffer, read in one trip to a blocking thread (open, read,
    /// close) instead of one per step.
    func readAll(_ piece: Piece) async throws -> ByteBuffer {
        let path = path(piece.file).string
        return try await BlockingPools.files.runIfActive {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BlobError.unreadable(path) }
            defer { close(fd) }
            var buffer = ByteBuffer()
            var done = 0
            let size = Int(piece.size)
            while done < size {
                let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size - done) { bytes in
                    max(0, pread(fd, bytes.baseAddress, size - done, off_t(piece.offset) + off_t(done)))
                }
                guard count > 0 else { throw BlobError.unreadable(path) }
                done += count
            }
            return buffer
        }
    }

    /// Which part of which piece each byte of `range` comes from.
    static func slices(_ pieces: [Piece], _ range: ClosedRange<Int64>) -> [(file: String, range: Range<Int64>)] {
        var result: [(file: String, range: Range<Int64>)] = []
        var start: Int64 = 0
        for piece in pieces {
            let end = start + piece.size
            let low = max(range.lowerBound, start), high = min(range.upperBound + 1, end)
            if low < high { result.append((piece.file, (piece.offset + low - start)..<(piece.offset + high - start))) }
            start = end
            if start > range.upperBound { break }
        }
        return result
    }

    /// A new file with the bytes of `body`: a hard link when it is one whole file, else a copy.
    func copy(_ body: ObjectBody) async throws -> Written {
        if body.pieces.count == 1, let md5 = body.md5, body.pieces[0].offset == 0 {
            let file = Self.newID()
            let folder = folderPath(file)
            try await fileSystem.createDirectory(at: folder, withIntermediateDirectories: true, permissions: [.ownerReadWriteExecute])
            guard link(path(body.pieces[0].file).string, path(file).string) == 0 else {
                throw APIError.notFound("Not Found")
            }
            return Written(piece: Piece(file: file, size: body.size), size: body.size, md5: md5)
        }
        let blobs = self, pieces = body.pieces, size = body.size
        let stream = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            let task = Task {
                do {
                    for (file, slice) in Self.slices(pieces, 0...max(0, size - 1)) where size > 0 {
                        try await blobs.fileSystem.withFileHandle(forReadingAt: blobs.path(file)) { handle in
                            for try await chunk in handle.readChunks(in: slice, chunkLength: .mebibytes(1)) { continuation.yield(chunk) }
                        }
                    }
                    continuation.finish()
                } catch { continuation.finish(throwing: error) }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return try await write(stream)
    }

    static func newID() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    /// Removes files by ID; anything that is not an ID this store made ("" for an empty part) is ignored.
    func delete(_ files: [String]) async {
        for file in files where Self.isID(file) { _ = try? await fileSystem.removeItem(at: path(file)) }
    }

    static func isID(_ file: String) -> Bool { file.utf8.count == 32 && file.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } }

    /// Every stored file ID, after removing interrupted writes: for the start-up clean-up.
    func sweep() async throws -> Set<String> {
        for name in try FileManager.default.contentsOfDirectory(atPath: root.appending("tmp").string) {
            _ = try? await fileSystem.removeItem(at: root.appending("tmp").appending(name))
        }
        var files = Set<String>()
        for folder in try FileManager.default.contentsOfDirectory(atPath: root.string) where folder != "tmp" {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root.appending(folder).string)) ?? [] {
                files.insert(name)
            }
        }
        return files
    }
}

