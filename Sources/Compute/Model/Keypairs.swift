import Crypto
import _CryptoExtras
import X509
import Foundation
import MartletCore
import SQLKit

/// An SSH key pair of one user.
struct Keypair: Sendable {
    var userID, name, type, publicKey, fingerprint: String
    var id: Int
    var createdAt: Double

    func json(_ v: Microversion, full: Bool) -> JSON {
        var body: [String: JSON] = ["name": .string(name), "public_key": .string(publicKey), "fingerprint": .string(fingerprint)]
        if v >= Microversion(2, 2) { body["type"] = .string(type) }
        if full {
            body.merge(["user_id": .string(userID), "id": JSON(id), "deleted": false, "created_at": .string(NovaTime.precise(createdAt)),
                        "updated_at": nil, "deleted_at": nil]) { _, new in new }
        }
        return .object(body)
    }

    /// The MD5 fingerprint `ssh-keygen -l -E md5` prints (without `MD5:`) of an OpenSSH public key line;
    /// nil when the line is not a key of a type Nova accepts.
    static func fingerprint(_ line: String) -> String? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 2, Self.keyTypes.contains(String(parts[0])),
              let blob = Data(base64Encoded: String(parts[1])), blob.count > 4 else { return nil }
        // The blob starts with its own type name: it must agree with the line's.
        let length = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard length > 0, blob.count >= 4 + length, String(decoding: blob[4..<(4 + length)], as: UTF8.self) == String(parts[0]) else { return nil }
        return Insecure.MD5.hash(data: blob).hex(separator: ":")
    }

    /// The SHA-1 fingerprint of a PEM certificate's DER bytes, as Nova gives x509 key pairs.
    static func certificateFingerprint(_ pem: String) -> String? {
        let body = pem.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("-----") && !$0.isEmpty }.joined()
        guard pem.contains("BEGIN CERTIFICATE"), let der = Data(base64Encoded: body), !der.isEmpty else { return nil }
        return Insecure.SHA1.hash(data: der).hex(separator: ":")
    }

    static let keyTypes: Set<String> = ["ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                        "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]

    /// A new x509 key pair as Nova makes one (2.2's `type: x509`): a self-signed RSA certificate
    /// naming the user and project, and its private key, both PEM.
    static func generateCertificate(userID: String, projectID: String) throws -> (certificate: String, privateKey: String) {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let name = try DistinguishedName {
            CommonName(userID)
            OrganizationName(projectID)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now, notValidAfter: now.addingTimeInterval(10 * 365 * 86400), issuer: name, subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions(), issuerPrivateKey: Certificate.PrivateKey(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// A new ed25519 key: the OpenSSH public line and the private key file.
    static func generate(comment: String) -> (publicKey: String, privateKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        let publicRaw = Data(key.publicKey.rawRepresentation)
        func string(_ d: Data) -> Data { var out = Data(); out.append(uint32(d.count)); out.append(d); return out }
        func uint32(_ n: Int) -> Data { Data([UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]) }
        let type = Data("ssh-ed25519".utf8)
        let publicBlob = string(type) + string(publicRaw)
        let publicLine = "ssh-ed25519 \(publicBlob.base64EncodedString()) \(comment)"
        let check = uint32(Int.random(in: 0..<Int(UInt32.max)))
        var privateSection = check + check + string(type) + string(publicRaw)
            + string(Data(key.rawRepresentation) + publicRaw) + string(Data(comment.utf8))
        var pad: UInt8 = 1
        while privateSection.count % 8 != 0 { privateSection.append(pad); pad += 1 }
        let body = Data("openssh-key-v1".utf8) + Data([0]) + string(Data("none".utf8)) + string(Data("none".utf8)) + string(Data())
            + uint32(1) + string(publicBlob) + string(privateSection)
        let wrapped = stride(from: 0, to: body.base64EncodedString().count, by: 70).map { offset -> String in
            let text = body.base64EncodedString()
            let start = text.index(text.startIndex, offsetBy: offset)
            return String(text[start..<(text.index(start, offsetBy: 70, limitedBy: text.endIndex) ?? text.endIndex)])
        }
        let privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + wrapped.joined(separator: "\n") + "\n-----END OPENSSH PRIVATE KEY-----\n"
        return (publicLine, privateKey)
    }
}

/// The key-pair queries.
struct KeypairStore: Sendable {
    func get(user: String, name: String, in db: any SQLDatabase) async throws -> Keypair? {
        try await db.raw("SELECT * FROM cmp_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name)").first().map(Self.decode)
    }

    func list(user: String, in db: any SQLDatabase) async throws -> [Keypair] {
        try await db.raw("SELECT * FROM cmp_keypairs WHERE user_id = \(bind: user) ORDER BY name").all().map(Self.decode)
    }

    func count(user: String, in db: any SQLDatabase) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM cmp_keypairs WHERE user_id = \(bind: user)").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func insert(_ k: Keypair, in db: any SQLDatabase) async throws -> Keypair {
        var k = k
        k.id = (try await db.raw("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS n FROM cmp_keypairs").first()?.decode(column: "n", as: Int.self) ?? 0) + 1
        try await db.raw("""
            INSERT INTO cmp_keypairs (user_id, name, id, type, public_key, fingerprint, created_at)
            VALUES (\(bind: k.userID), \(bind: k.name), \(bind: k.id), \(bind: k.type), \(bind: k.publicKey), \(bind: k.fingerprint), \(bind: k.createdAt))
            """).run()
        return k
    }

    func delete(user: String, name: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_keypairs WHERE user_id = \(bind: user) AND name = \(bind: name)").run()
    }

    static func decode(_ row: any SQLRow) throws -> Keypair {
        Keypair(userID: try row.decode(column: "user_id", as: String.self), name: try row.decode(column: "name", as: String.self),
                type: try row.decode(column: "type", as: String.self), publicKey: try row.decode(column: "public_key", as: String.self),
                fingerprint: try row.decode(column: "fingerprint", as: String.self), id: try row.decode(column: "id", as: Int.self),
                createdAt: try row.decode(column: "created_at", as: Double.self))
    }
}
