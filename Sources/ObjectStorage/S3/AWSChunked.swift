import Crypto
import Foundation
import MartletCore
import NIOCore

/// Verifies the signature chain of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` chunks.
struct ChunkSigner: Sendable {
    let key: SymmetricKey
    let date: String
    let scope: String
    let seed: String

    func signature(previous: String, chunk: ByteBuffer) -> String {
        let hash = chunk.withUnsafeReadableBytes { SHA256.hash(data: $0) }.hex
        return S3Auth.hmac(key, "AWS4-HMAC-SHA256-PAYLOAD\n\(date)\n\(scope)\n\(previous)\n\(S3Auth.emptySHA256)\n\(hash)").hex
    }
}

/// The data inside an `aws-chunked` body (`<hex size>[;chunk-signature=…]\r\n<data>\r\n`, ending
/// with a zero-size chunk and optional trailers), each chunk's signature checked when signed.
struct AWSChunkedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let signer: ChunkSigner?

    struct AsyncIterator: AsyncIteratorProtocol {
        var source: Base.AsyncIterator
        let signer: ChunkSigner?
        var previous: String
        var buffer = ByteBuffer()
        var done = false

        mutating func next() async throws -> ByteBuffer? {
            guard !done else { return nil }
            let line = try await readLine()
            let parts = line.split(separator: ";", maxSplits: 1)
            guard let sizeText = parts.first, let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0,
                  size <= 16 << 20 else { throw S3Error.invalidArgument("The aws-chunked body is malformed.") }
            let signature = parts.count > 1 ? parts[1].split(separator: "=", maxSplits: 1).last.map(String.init) : nil
            try await fill(size)
            let chunk = buffer.readSlice(length: size)!
            if let signer {
                let expected = signer.signature(previous: previous, chunk: chunk)
                guard let signature, expected.constantTimeEquals(signature) else {
                    throw S3Error(.forbidden, "SignatureDoesNotMatch", "The chunk signature does not match.")
                }
                previous = expected
            }
            if size == 0 {
                done = true
                return nil
            }
            _ = try await readLine()
            return chunk
        }

        private mutating func fill(_ count: Int) async throws {
            while buffer.readableBytes < count {
                guard var more = try await source.next() else { throw S3Error(.badRequest, "IncompleteBody", "The request body ended early.") }
                buffer.writeBuffer(&more)
            }
        }

        private mutating func readLine() async throws -> String {
            while true {
                if let index = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = index - buffer.readerIndex + 1
                    let line = buffer.readString(length: length) ?? ""
                    return line.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                guard buffer.readableBytes < 4096, var more = try await source.next() else {
                    throw S3Error.invalidArgument("The aws-chunked body is malformed.")
                }
                buffer.writeBuffer(&more)
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(source: base.makeAsyncIterator(), signer: signer, previous: signer?.seed ?? "")
    }
}
