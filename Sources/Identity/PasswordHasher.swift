import Crypto
import Foundation
import HummingbirdBcrypt
import MartletCore
import NIOPosix

/// Hashes passwords with bcrypt at the configured cost, off the request threads (bcrypt is slow on
/// purpose). Generated application-credential secrets are long and random, so SHA-256 suffices for them.
struct PasswordHasher: Sendable {
    let cost: UInt8
    static let sha256Prefix = "sha256$"

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func hashRandomSecret(_ secret: String) -> String {
        Self.sha256Prefix + SHA256.hash(data: Data(secret.utf8)).hex
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        if hash.hasPrefix(Self.sha256Prefix) {
            let expected = Array(hash.utf8)
            let actual = Array(hashRandomSecret(password).utf8)
            // constant-time comparison
            return expected.count == actual.count && zip(expected, actual).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
