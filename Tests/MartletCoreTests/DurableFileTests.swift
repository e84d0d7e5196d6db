import Foundation
import NIOCore
import Testing
@testable import MartletCore

@Suite struct DurableFileTests {
    struct Broken: Error {}

    /// Keeps every block it is shown, to compare with what reached the disk.
    struct Collector: BlockObserver {
        var bytes: [UInt8] = []
        var blocks: [Int] = []
        mutating func observe(_ block: ByteBuffer) async {
            bytes += block.readableBytesView
            blocks.append(block.readableBytes)
        }
    }

    /// A scratch folder, removed afterwards.
    static func withFolder(_ body: (String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("durable-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await body(folder)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// `bytes` in chunks of `chunk` bytes, failing with `Broken` after `failAfter` of them.
    static func body(_ bytes: [UInt8], chunk: Int, failAfter: Int? = nil) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var sent = 0
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                if let failAfter, sent == failAfter { break }
                continuation.yield(ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)]))
                sent += 1
            }
            if failAfter != nil { continuation.finish(throwing: Broken()) } else { continuation.finish() }
        }
    }

    static func names(_ folder: String) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    @Test(arguments: [0, 1, 4096, DurableFile.blockSize - 1])
    func smallBodyIsWrittenWhole(size: Int) async throws {
        try await Self.withFolder { folder in
            let bytes = Self.randomBytes(size)
            var seen = Collector()
            let written = try await DurableFile.write(Self.body(bytes, chunk: 1000), to: "\(folder)/file", temporary: "\(folder)/.tmp",
                                                      observer: &seen)
            #expect(written == Int64(size))
            #expect(Array(FileManager.default.contents(atPath: "\(folder)/file") ?? Data()) == bytes)
            #expect(seen.bytes == bytes)
            #expect(seen.blocks.count == (size == 0 ? 0 : 1))
            #expect(Self.names(folder) == ["file"])
        }
    }

    /// Chunks that do not divide a block, and whole-block chunks (the body then ends on a block boundary).
    @Test(arguments: [(3 * DurableFile.blockSize + 12345, 64 << 10 + 7), (2 * DurableFile.blockSize, DurableFile.blockSize)])
    func largeBodyIsWrittenInBlocks(size: Int, chunk: Int) async throws {
        try await Self.withFolder { folder in
            let bytes = Self.randomBytes(size)
            var seen = Collector()
            let written = try await DurableFile.write(Self.body(bytes, chunk: chunk), to: "\(folder)/file", temporary: "\(folder)/.tmp",
                                                      observer: &seen)
            #expect(written == Int64(size))
            #expect(Array(FileManager.default.contents(atPath: "\(folder)/file") ?? Data()) == bytes)
            #expect(seen.bytes == bytes)
            #expect(seen.blocks.count > 1)
            #expect(seen.blocks.allSatisfy { $0 < DurableFile.blockSize + chunk })
            #expect(Self.names(folder) == ["file"])
        }
    }

    @Test func emptyBodyMakesNoFileWhenAskedNot() async throws {
        try await Self.withFolder { folder in
            let written = try await DurableFile.write(Self.body([], chunk: 1), to: "\(folder)/file", temporary: "\(folder)/.tmp",
                                                      makesEmptyFile: false)
            #expect(written == 0)
            #expect(Self.names(folder).isEmpty)
        }
    }

    /// A body that fails in the first block or after several leaves neither the final nor the temporary file.
    @Test(arguments: [1, 40])
    func failingBodyLeavesNothing(failAfter: Int) async throws {
        try await Self.withFolder { folder in
            await #expect(throws: Broken.self) {
                try await DurableFile.write(Self.body(Self.randomBytes(5 << 20), chunk: 64 << 10, failAfter: failAfter),
                                            to: "\(folder)/file", temporary: "\(folder)/.tmp")
            }
            #expect(Self.names(folder).isEmpty)
        }
    }

    @Test(arguments: [1000, 3 * DurableFile.blockSize])
    func limitIsEnforced(limit: Int) async throws {
        try await Self.withFolder { folder in
            let bytes = Self.randomBytes(limit)
            let exact = try await DurableFile.write(Self.body(bytes, chunk: 100_000), to: "\(folder)/exact", temporary: "\(folder)/.tmp",
                                                    limit: Int64(limit))
            #expect(exact == Int64(limit))
            await #expect(throws: DurableFileError.tooLarge(limit: Int64(limit))) {
                try await DurableFile.write(Self.body(bytes + [1], chunk: 100_000), to: "\(folder)/over", temporary: "\(folder)/.tmp",
                                            limit: Int64(limit))
            }
            #expect(Self.names(folder) == ["exact"])
        }
    }

    @Test func negativeLimitRefusesEvenAnEmptyBody() async throws {
        try await Self.withFolder { folder in
            await #expect(throws: DurableFileError.tooLarge(limit: -1)) {
                try await DurableFile.write(Self.body([], chunk: 1), to: "\(folder)/file", temporary: "\(folder)/.tmp", limit: -1)
            }
            #expect(Self.names(folder).isEmpty)
        }
    }

    /// A cancelled write publishes nothing, even when its body just ends (as `AsyncStream` does on cancellation).
    @Test func cancelledWriteLeavesNothing() async throws {
        try await Self.withFolder { folder in
            let (body, feed) = AsyncStream<ByteBuffer>.makeStream()
            let sent = AsyncStream<Void>.makeStream()
            let task = Task {
                try await DurableFile.write(body, to: "\(folder)/file", temporary: "\(folder)/.tmp")
            }
            Task {
                for _ in 0..<3 { feed.yield(ByteBuffer(bytes: Self.randomBytes(DurableFile.blockSize))) }
                sent.continuation.finish()
            }
            for await _ in sent.stream {}
            try await Task.sleep(for: .milliseconds(50))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(Self.names(folder).isEmpty)
        }
    }

    @Test func makesMissingFoldersAndReplacesAnExistingFile() async throws {
        try await Self.withFolder { folder in
            let path = "\(folder)/a/b/file"
            try await DurableFile.write(Self.body([1, 2, 3], chunk: 2), to: path, temporary: "\(folder)/.tmp1")
            try await DurableFile.write(Self.body([4, 5], chunk: 2), to: path, temporary: "\(folder)/.tmp2")
            #expect(FileManager.default.contents(atPath: path) == Data([4, 5]))
            #expect(Self.names(folder) == ["a", "a/b", "a/b/file"])
        }
    }

    @Test func renameMovesIntoANewFolder() async throws {
        try await Self.withFolder { folder in
            try await DurableFile.write(Self.body([7], chunk: 1), to: "\(folder)/staged", temporary: "\(folder)/.tmp")
            try await DurableFile.rename("\(folder)/staged", to: "\(folder)/images/one")
            #expect(FileManager.default.contents(atPath: "\(folder)/images/one") == Data([7]))
            #expect(Self.names(folder) == ["images", "images/one"])
        }
    }

    @Test func unwritableTemporaryIsReported() async throws {
        try await Self.withFolder { folder in
            await #expect(throws: DurableFileError.self) {
                try await DurableFile.write(Self.body([1], chunk: 1), to: "\(folder)/file", temporary: "\(folder)/missing/.tmp")
            }
            #expect(Self.names(folder).isEmpty)
        }
    }
}
