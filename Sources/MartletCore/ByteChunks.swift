import NIOCore

/// A stream of bytes in chunks: disk images and snapshots move between services and drivers this
/// way, so none is ever held whole in memory.
public typealias ByteChunks = any AsyncSequence<ByteBuffer, any Error> & Sendable

/// Chunks made in process (a fake driver's disk, a test's body).
public struct BufferChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let buffers: [ByteBuffer]

    public init(_ buffers: [ByteBuffer]) { self.buffers = buffers }
    public init(bytes: [UInt8]) { buffers = [ByteBuffer(bytes: bytes)] }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<ByteBuffer>
        public mutating func next() async throws -> ByteBuffer? { rest.popFirst() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: buffers[...]) }
}
