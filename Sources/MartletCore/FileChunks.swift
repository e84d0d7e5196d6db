import Foundation
import NIOCore
import NIOPosix

/// A file read in chunks on NIO's blocking-I/O pool, one chunk per `next()`, so a slow reader
/// never makes the file pile up in memory. The file closes when the iterator ends or is dropped.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let path: String
    let chunkSize: Int
    let removesFile: Bool

    /// With `removesFile`, the file is unlinked as soon as it is open: it is gone once the reader is
    /// done or drops the iterator (a temporary snapshot, say).
    public init(path: String, chunkSize: Int = 1 << 20, removesFile: Bool = false) {
        self.path = path
        self.chunkSize = chunkSize
        self.removesFile = removesFile
    }

    public final class AsyncIterator: AsyncIteratorProtocol, @unchecked Sendable {
        // Only `next()` touches the handle, and an iterator is never shared between tasks.
        private var handle: FileHandle?
        private let path: String
        private let chunkSize: Int
        private let removesFile: Bool

        init(path: String, chunkSize: Int, removesFile: Bool) {
            self.path = path
            self.chunkSize = chunkSize
            self.removesFile = removesFile
        }

        public func next() async throws -> ByteBuffer? {
            let path = path, size = chunkSize, current = handle, removes = removesFile
            let (opened, data) = try await BlockingPools.files.runIfActive { () throws -> (FileHandle, Data?) in
                let file = try current ?? FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                if current == nil, removes { try? FileManager.default.removeItem(atPath: path) }
                return (file, try file.read(upToCount: size))
            }
            handle = opened
            guard let data, !data.isEmpty else {
                try? opened.close()
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path, chunkSize: chunkSize, removesFile: removesFile) }
}
