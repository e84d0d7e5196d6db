import Foundation
import NIOCore
import NIOPosix

/// A file read in chunks on NIO's blocking-I/O pool, one chunk per `next()`, so a slow reader
/// never makes the file pile up in memory. The file closes when the iterator ends or is dropped.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let path: String
    let chunkSize: Int

    public init(path: String, chunkSize: Int = 1 << 20) {
        self.path = path
        self.chunkSize = chunkSize
    }

    public final class AsyncIterator: AsyncIteratorProtocol, @unchecked Sendable {
        // Only `next()` touches the handle, and an iterator is never shared between tasks.
        private var handle: FileHandle?
        private let path: String
        private let chunkSize: Int

        init(path: String, chunkSize: Int) {
            self.path = path
            self.chunkSize = chunkSize
        }

        public func next() async throws -> ByteBuffer? {
            let path = path, size = chunkSize, current = handle
            let (opened, data) = try await NIOThreadPool.singleton.runIfActive { () throws -> (FileHandle, Data?) in
                let file = try current ?? FileHandle(forReadingFrom: URL(fileURLWithPath: path))
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

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path, chunkSize: chunkSize) }
}
