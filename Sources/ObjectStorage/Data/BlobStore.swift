import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore
import NIOCore
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
    case tooLarge
}

/// Object bytes as files under `<data-dir>/objects`, named by generated IDs (never by object
/// names): written to `tmp/`, fsync'd, renamed into `<first two hex digits>/`, and the folder
/// fsync'd, before the catalogue row that points at them commits.
struct BlobStore: Sendable {
    let root: FilePath
    let fileSystem = FileSystem.shared
    static let chunk = 1 << 20

    init(directory: URL) throws {
        root = FilePath(directory.path)
        try FileManager.default.createDirectory(atPath: directory.appendingPathComponent("tmp").path,
                                                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func path(_ file: String) -> FilePath { root.appending(String(file.prefix(2))).appending(file) }

    /// Streams `body` into a new file, hashing it; throws `BlobError.tooLarge` past `limit` bytes.
    func write<Body: AsyncSequence & Sendable>(_ body: Body, limit: Int64? = nil, sha256: Bool = false) async throws -> Written
        where Body.Element == ByteBuffer {
        var iterator = body.makeAsyncIterator()
        var md5 = Insecure.MD5()
        var sha = sha256 ? SHA256() : nil
        guard var first = try await iterator.next() else {
            return Written(piece: nil, size: 0, md5: md5.finalize().hex, sha256: sha?.finalize().hex)
        }
        let file = Self.newID()
        let temporary = root.appending("tmp").appending(file)
        do {
            let size = try await fileSystem.withFileHandle(
                forWritingAt: temporary, options: .newFile(replaceExisting: false, permissions: [.ownerReadWrite])
            ) { handle -> Int64 in
                var offset: Int64 = 0
                var block = ByteBuffer()
                func flush() async throws {
                    guard block.readableBytes > 0 else { return }
                    block.withUnsafeReadableBytes { bytes in
                        md5.update(bufferPointer: bytes)
                        sha?.update(bufferPointer: bytes)
                    }
                    try await handle.write(contentsOf: block.readableBytesView, toAbsoluteOffset: offset)
                    offset += Int64(block.readableBytes)
                    block.clear()
                }
                block.writeBuffer(&first)
                while var chunk = try await iterator.next() {
                    if let limit, offset + Int64(block.readableBytes + chunk.readableBytes) > limit { throw BlobError.tooLarge }
                    block.writeBuffer(&chunk)
                    if block.readableBytes >= Self.chunk { try await flush() }
                }
                if let limit, offset + Int64(block.readableBytes) > limit { throw BlobError.tooLarge }
                try await flush()
                try await handle.synchronize()
                return offset
            }
            let folder = root.appending(String(file.prefix(2)))
            try await fileSystem.createDirectory(at: folder, withIntermediateDirectories: true, permissions: [.ownerReadWriteExecute])
            try await fileSystem.moveItem(at: temporary, to: path(file))
            try await fileSystem.withFileHandle(forReadingAt: folder) { try await $0.synchronize() }
            return Written(piece: Piece(file: file, size: size), size: size, md5: md5.finalize().hex, sha256: sha?.finalize().hex)
        } catch {
            _ = try? await fileSystem.removeItem(at: temporary)
            throw error
        }
    }

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

    /// A whole small object in one buffer: one read, no streaming machinery.
    func readAll(_ piece: Piece) async throws -> ByteBuffer {
        try await fileSystem.withFileHandle(forReadingAt: path(piece.file)) { handle in
            try await handle.readChunk(fromAbsoluteOffset: piece.offset, length: .bytes(piece.size))
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
            let folder = root.appending(String(file.prefix(2)))
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

    func delete(_ files: [String]) async {
        for file in files { _ = try? await fileSystem.removeItem(at: path(file)) }
    }

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

extension Digest {
    var hex: String {
        var text = ""
        text.reserveCapacity(Self.byteCount * 2)
        for byte in self {
            text.append(Self.digits[Int(byte >> 4)])
            text.append(Self.digits[Int(byte & 0xF)])
        }
        return text
    }
    private static var digits: [Character] { Array("0123456789abcdef") }
}
