import Crypto
import Foundation

/// What a token carries. Roles and catalog are not in it: they are worked out when it is validated,
/// so a token reflects the current assignments, as Keystone's fernet tokens do.
struct TokenPayload: Codable, Sendable, Equatable {
    var userID: String
    var methods: [String]
    var projectID: String?
    var domainID: String?
    var system: Bool
    var issuedAt: Double
    var expiresAt: Double
    var auditIDs: [String]
    var applicationCredentialID: String?
    /// OS-TRUST: the trust the token is scoped to; `userID` is then the trustee, who authenticated.
    var trustID: String?

    enum CodingKeys: String, CodingKey {
        case userID = "u", methods = "m", projectID = "p", domainID = "d", system = "s"
        case issuedAt = "i", expiresAt = "e", auditIDs = "a", applicationCredentialID = "c", trustID = "t"
    }
}

/// Seals payloads into opaque strings: `base64url(version ‖ key number ‖ ChaChaPoly box)`.
/// The version and key number are authenticated too, so no byte of a token can be altered.
struct TokenCodec: Sendable {
    static let version: UInt8 = 1
    let keys: TokenKeys

    func seal(_ payload: TokenPayload) throws -> String {
        let (id, key) = try keys.primary()
        let header = Self.header(id)
        let plaintext = try JSONEncoder().encode(payload)
        let box = try ChaChaPoly.seal(plaintext, using: key, authenticating: header)
        return Self.base64url(header + box.combined)
    }

    /// nil for anything that is not an intact token sealed by one of our keys.
    func open(_ token: String) -> TokenPayload? {
        guard token.count < 2048, let data = Self.fromBase64url(token), data.count > 5 + 12 + 16,
              data[data.startIndex] == Self.version else { return nil }
        let header = data.prefix(5)
        let id = header.dropFirst().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let key = keys.key(id),
              let box = try? ChaChaPoly.SealedBox(combined: data.dropFirst(5)),
              let plaintext = try? ChaChaPoly.open(box, using: key, authenticating: header)
        else { return nil }
        return try? JSONDecoder().decode(TokenPayload.self, from: plaintext)
    }

    static func header(_ id: UInt32) -> Data {
        Data([version, UInt8(id >> 24 & 0xff), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff)])
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func fromBase64url(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    /// A random, URL-safe audit ID like Keystone's (22 characters).
    static func newAuditID() -> String {
        base64url(Data((0..<16).map { _ in UInt8.random(in: 0...255) }))
    }
}
