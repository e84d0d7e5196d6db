import Crypto
import DriverKit
import Foundation
import MartletCore
import NIOCore
import ServiceContracts

/// A volume's bytes to and from the object store in fixed chunks. A chunk of zeros is not stored;
/// an incremental backup stores only the chunks whose SHA-256 differs from its parent's and
/// points at the parent's objects for the rest. A restore checks every chunk against its hash.
struct BackupEngine: Sendable {
    static let chunkSize = 8 << 20
    let driver: any VolumeDriver
    let objects: any ProjectObjects

    /// How many chunks are hashed and stored at once while the next one is read.
    static let inFlight = 2

    /// Reads the volume and stores its chunks, a few at a time; the chunk list, in order. A
    /// failure removes the objects this call may have written (their names follow from the index).
    func write(_ backup: Backup, volumeID: String, parent: Backup?) async throws -> [BackupChunk] {
        var count = 0
        do {
            return try await withThrowingTaskGroup(of: (Int, BackupChunk).self) { group in
                var done: [Int: BackupChunk] = [:]
                var buffer = ByteBuffer()
                buffer.reserveCapacity(Self.chunkSize)
                func submit(_ bytes: ByteBuffer) async throws {
                    while count - done.count >= Self.inFlight, let (index, chunk) = try await group.next() { done[index] = chunk }
                    let index = count
                    group.addTask { (index, try await store(bytes, index: index, of: backup, parent: parent)) }
                    count += 1
                }
                for try await var piece in try await driver.read(volumeID, format: "raw") {
                    while piece.readableBytes > 0 {
                        var slice = piece.readSlice(length: min(Self.chunkSize - buffer.readableBytes, piece.readableBytes))!
                        buffer.writeBuffer(&slice)
                        if buffer.readableBytes == Self.chunkSize {
                            try await submit(buffer)
                            buffer = ByteBuffer()
                            buffer.reserveCapacity(Self.chunkSize)
                        }
                    }
                }
                if buffer.readableBytes > 0 { try await submit(buffer) }
                for try await (index, chunk) in group { done[index] = chunk }
                return (0..<count).map { done[$0]! }
            }
        } catch {
            await deleteObjects((0..<count).map { Self.objectName(backup, index: $0) }, of: backup)
            throw error
        }
    }

    private func store(_ bytes: ByteBuffer, index: Int, of backup: Backup, parent: Backup?) async throws -> BackupChunk {
        if Self.isZero(bytes) {
            let sha256 = bytes.readableBytes == Self.chunkSize ? Self.zeroChunkSHA256 : Self.sha256(bytes)
            return BackupChunk(object: nil, length: bytes.readableBytes, sha256: sha256)
        }
        let sha256 = Self.sha256(bytes)
        if let parent, index < parent.chunks.count, parent.chunks[index].sha256 == sha256, parent.chunks[index].length == bytes.readableBytes {
            return parent.chunks[index]
        }
        let name = Self.objectName(backup, index: index)
        try await objects.putObject(projectID: backup.objectProjectID, container: backup.container, name: name, bytes: bytes)
        return BackupChunk(object: name, length: bytes.readableBytes, sha256: sha256)
    }

    /// Writes the backup's bytes over the volume. A chunk whose object is gone or changed fails the restore.
    func restore(_ backup: Backup, into volumeID: String) async throws {
        try await driver.write(volumeID, raw: RestoredBytes(backup: backup, objects: objects))
    }

    /// The object holding chunk `index` (from 0) of the backup: `<prefix>-00001`, ….
    static func objectName(_ backup: Backup, index: Int) -> String { "\(backup.objectPrefix)-\(String(format: "%05d", index + 1))" }

    /// Removes these objects from the backup's container; one already gone is no error.
    func deleteObjects(_ names: [String], of backup: Backup) async {
        for name in names {
            try? await objects.deleteObject(projectID: backup.objectProjectID, container: backup.container, name: name)
        }
    }

    /// Most of a new volume is zeros: their hash is worked out once.
    static let zeroChunkSHA256 = sha256(ByteBuffer(repeating: 0, count: chunkSize))

    static func sha256(_ bytes: ByteBuffer) -> String {
        bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) }.map { String(format: "%02x", $0) }.joined()
    }

    /// All zeros: the first byte is, and every byte equals the one after it.
    static func isZero(_ bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes { p in
            guard let base = p.baseAddress, p.count > 0 else { return true }
            return p[0] == 0 && memcmp(base, base + 1, p.count - 1) == 0
        }
    }
}

enum BackupError: Error, CustomStringConvertible {
    case corrupt(String)

    var description: String {
        switch self {
        case .corrupt(let object): "backup object \(object) is missing or does not match its checksum"
        }
    }
}

/// A backup's bytes in order, fetched one chunk at a time and checked.
struct RestoredBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let backup: Backup
    let objects: any ProjectObjects

    struct AsyncIterator: AsyncIteratorProtocol {
        let backup: Backup
        let objects: any ProjectObjects
        var index = 0

        mutating func next() async throws -> ByteBuffer? {
            guard index < backup.chunks.count else { return nil }
            let chunk = backup.chunks[index]
            index += 1
            guard let name = chunk.object else { return ByteBuffer(repeating: 0, count: chunk.length) }
            guard let bytes = try await objects.objectBytes(projectID: backup.objectProjectID, container: backup.container, name: name,
                                                            size: chunk.length),
                  bytes.readableBytes == chunk.length, BackupEngine.sha256(bytes) == chunk.sha256 else { throw BackupError.corrupt(name) }
            return bytes
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(backup: backup, objects: objects) }
}
