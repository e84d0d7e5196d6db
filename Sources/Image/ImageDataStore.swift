import Crypto
import Foundation
import Hummingbird
import MartletCore
import NIOCore
import NIOFileSystem

/// What the store learned while it took in image data.
public struct ImageDigest: Sendable, Equatable {
    public var size: Int64
    /// MD5, hex: Glance's `checksum`.
    public var md5: String
    /// SHA-512, hex: Glance's `os_hash_value` with `os_hash_algo` `sha512`.
    public var sha512: String
}

/// Where image bytes live. Writes are all-or-nothing: a failed or cut-off write leaves no data.
public protocol ImageDataStore: Sendable {
    /// Streams `body` in as the data of `key`, stopping with `ImageDataError.tooLarge` past `limit` bytes.
    func write<Body: AsyncSequence & Sendable>(_ key: ImageDataKey, from body: Body, limit: Int64?) async throws -> ImageDigest
        where Body.Element == ByteBuffer
    /// Moves staged data into place as the image's data, hashing it on the way.
    func promote(stagedID id: String) async throws -> ImageDigest
    func size(_ key: ImageDataKey) async throws -> Int64?
    func read(_ key: ImageDataKey, range: ClosedRange<Int64>) -> ResponseBody
    /// The whole data of `key`, streamed.
    func chunks(_ key: ImageDataKey) -> ByteChunks
    func delete(_ key: ImageDataKey) async throws
    /// Every key that has data, and removes interrupted writes: for the start-up clean-up.
    func sweep() async throws -> [ImageDataKey]
    /// Where the key's bytes are on this host, for a store that keeps files (nil otherwise).
    func localFile(_ key: ImageDataKey) -> String?
}

public enum ImageDataKey: Sendable, Hashable {
    case image(String)
    case staging(String)
}

public enum ImageDataError: Error {
    case tooLarge(limit: Int64)
}

/// Image data as files in `<data-dir>/images` (staged data in `images/staging`), written with
/// `DurableFile`. File names are image IDs, which the service generates or validates as UUIDs,
/// so no client string ever becomes a path.
extension ImageDataStore {
    public func localFile(_ key: ImageDataKey) -> String? { nil }
}

public struct FileImageDataStore: ImageDataStore {
    let root: FilePath
    let fileSystem = FileSystem(threadPool: BlockingPools.files)

    public init(directory: URL) throws {
        root = FilePath(directory.path)
        for sub in ["", "staging"] {
            try FileManager.default.createDirectory(atPath: directory.appendingPathComponent(sub).path,
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    public func localFile(_ key: ImageDataKey) -> String? { path(key).string }

    func path(_ key: ImageDataKey) -> FilePath {
        switch key {
        case .image(let id): return root.appending(id)
        case .staging(let id): return root.appending("staging").appending(id)
        }
    }

    public func write<Body: AsyncSequence & Sendable>(_ key: ImageDataKey, from body: Body, limit: Int64?) async throws -> ImageDigest
        where Body.Element == ByteBuffer {
        var hasher = Hasher()
        do {
            let size = try await DurableFile.write(body, to: path(key).string, temporary: root.appending(".tmp-\(UUID().uuidString)").string,
                                                   limit: limit, observer: &hasher)
            return hasher.finish(size: size)
        } catch DurableFileError.tooLarge(let limit) {
            throw ImageDataError.tooLarge(limit: limit)
        }
    }

    public func promote(stagedID id: String) async throws -> ImageDigest {
        let staged = path(.staging(id))
        var hasher = Hasher()
        var size: Int64 = 0
        try await fileSystem.withFileHandle(forReadingAt: staged) { handle in
            for try await chunk in handle.readChunks() {
                hasher.update(chunk)
                size += Int64(chunk.readableBytes)
            }
        }
        try await DurableFile.rename(staged.string, to: path(.image(id)).string)
        return hasher.finish(size: size)
    }

    public func size(_ key: ImageDataKey) async throws -> Int64? {
        guard let info = try await fileSystem.info(forFileAt: path(key)) else { return nil }
        return info.size
    }

    public func read(_ key: ImageDataKey, range: ClosedRange<Int64>) -> ResponseBody {
        let path = self.path(key)
        let fileSystem = self.fileSystem
        return ResponseBody(contentLength: Int(range.count)) { writer in
            try await fileSystem.withFileHandle(forReadingAt: path) { handle in
                for try await chunk in handle.readChunks(in: range, chunkLength: .mebibytes(1)) {
                    try await writer.write(chunk)
                }
            }
            try await writer.finish(nil)
        }
    }

    public func chunks(_ key: ImageDataKey) -> ByteChunks { FileChunks(path: path(key).string) }

    public func delete(_ key: ImageDataKey) async throws {
        _ = try await fileSystem.removeItem(at: path(key))
    }

    public func sweep() async throws -> [ImageDataKey] {
        var keys: [ImageDataKey] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: root.string) {
            if name.hasPrefix(".tmp-") {
                _ = try? await fileSystem.removeItem(at: root.appending(name))
            } else if name != "staging" {
                keys.append(.image(name))
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: root.appending("staging").string) {
            keys.append(.staging(name))
        }
        return keys
    }
}

/// MD5 and SHA-512 over a stream of chunks.
struct Hasher: BlockObserver {
    var md5 = Insecure.MD5()
    var sha512 = SHA512()

    /// The two hashes run side by side, so hashing does not hold an upload to one core.
    mutating func observe(_ block: ByteBuffer) async {
        let sha512 = self.sha512
        async let nextSHA = Self.hashed(sha512, block)
        md5 = Self.hashed(md5, block)
        self.sha512 = await nextSHA
    }

    static func hashed<H: HashFunction>(_ hash: H, _ data: ByteBuffer) -> H {
        var hash = hash
        data.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        return hash
    }

    mutating func update(_ chunk: ByteBuffer) {
        chunk.withUnsafeReadableBytes { bytes in
            md5.update(bufferPointer: bytes)
            sha512.update(bufferPointer: bytes)
        }
    }

    func finish(size: Int64) -> ImageDigest {
        ImageDigest(size: size, md5: md5.finalize().hex, sha512: sha512.finalize().hex)
    }
}

