import DriverKit
import MartletCore

/// One rule of a driver protocol, checked against any implementation. Suites are plain Swift so
/// a driver's own test target runs them under whatever test library it uses.
public struct ConformanceCheck<Fixture: Sendable>: Sendable, CustomStringConvertible {
    public let description: String
    let body: @Sendable (Fixture) async throws -> Void

    init(_ description: String, _ body: @escaping @Sendable (Fixture) async throws -> Void) {
        self.description = description
        self.body = body
    }

    public func run(_ fixture: Fixture) async throws { try await body(fixture) }
}

public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(description: message()) }
}

/// Runs `body`, which must fail with a `DriverError` that `matches` accepts.
func expectDriverError(_ what: String, _ matches: (DriverError) -> Bool, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as DriverError {
        try expect(matches(error), "\(what): wrong error \(error)")
        return
    } catch {
        throw ConformanceFailure(description: "\(what): threw \(error), not a DriverError")
    }
    throw ConformanceFailure(description: "\(what): succeeded but must fail")
}

func isNotFound(_ error: DriverError) -> Bool { if case .notFound = error { return true } else { return false } }

/// All the bytes of a stream, for checks on small test disks.
func byteCount(_ chunks: ByteChunks) async throws -> Int {
    var count = 0
    for try await chunk in chunks { count += chunk.readableBytes }
    return count
}


/// The first `count` bytes of the stream (fewer if it ends sooner).
func prefix(_ chunks: ByteChunks, _ count: Int) async throws -> [UInt8] {
    var bytes: [UInt8] = []
    for try await chunk in chunks {
        bytes.append(contentsOf: chunk.readableBytesView.prefix(count - bytes.count))
        if bytes.count == count { break }
    }
    return bytes
}
