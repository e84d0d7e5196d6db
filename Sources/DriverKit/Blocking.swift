import Foundation

/// Work that blocks a thread (waiting for a process, a socket, a C library's call) runs on
/// Dispatch's threads, not on the cooperative pool, whose few threads the rest of Martlet needs.
public enum Blocking {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
