import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore
import ServiceContracts

/// A caller whose signature checked out: the account its access key acts for, and what the
/// body must still be checked against.
struct S3Caller: Sendable {
    var account: String
    var credential: EC2Credential
    /// The signed `x-amz-content-sha256` (hex), or nil when the payload is unsigned or chunk-signed.
    var payloadSHA256: String?
    /// Set for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` bodies: each chunk carries a signature.
    var chunkSigner: ChunkSigner?
}

/// Signature V4 (header and presigned query) and V2 (header and presigned query), checked
/// against Identity's EC2 credentials.
struct S3Auth: Sendable {
    let credentials: any CredentialAuthority
    static let maxSkew: TimeInterval = 15 * 60
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func authenticate(_ request: Request, resource: String) async throws -> S3Caller {
        let query = request.uri.queryParameters
        if let header = request.headers[.authorization] {
            if header.hasPrefix("AWS4-HMAC-SHA256 ") { return try await v4(request, fields: Self.authorizationFields(header), presigned: false) }
            if header.hasPrefix("AWS ") { return try await v2Header(request, header: header, resource: resource) }
            throw S3Error.invalidArgument("Unsupported Authorization Type")
        }
        if query.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" {
            var fields: [String: String] = [:]
            for key in ["X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature"] { fields[key] = query.get(key) }
            return try await v4(request, fields: ["Credential": fields["X-Amz-Credential"] ?? "", "SignedHeaders": fields["X-Amz-SignedHeaders"] ?? "",
                                                  "Signature": fields["X-Amz-Signature"] ?? ""], presigned: true)
        }
        if let access = query.get("AWSAccessKeyId"), let signature = query.get("Signature"), let expires = query.get("Expires") {
            guard let when = Double(expires), when >= Date().timeIntervalSince1970 else {
                throw S3Error(.forbidden, "AccessDenied", "Request has expired")
            }
            return try await v2(request, access: access, signature: signature, date: expires, resource: resource)
        }
        throw S3Error.accessDenied
    }

    // MARK: V4

    static func authorizationFields(_ header: String) -> [String: String] {
        var fields: [String: String] = [:]
        for part in header.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        return fields
    }

    private func v4(_ request: Request, fields: [String: String], presigned: Bool) async throws -> S3Caller {
        let scope = (fields["Credential"] ?? "").split(separator: "/").map(String.init)
        guard scope.count == 5, scope[3] == "s3", scope[4] == "aws4_request", let signature = fields["Signature"],
              let signedHeaders = fields["SignedHeaders"] else {
            throw S3Error(.badRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed.")
        }
        let query = request.uri.queryParameters
        guard let amzDate = presigned ? query.get("X-Amz-Date") : request.header("x-amz-date") ?? request.header("Date").flatMap(Self.amzDate),
              let date = Self.parseAmzDate(amzDate) else {
            throw S3Error(.forbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
        }
        if presigned {
            guard let expires = query.get("X-Amz-Expires").flatMap(Int.init), (1...604_800).contains(expires) else {
                throw S3Error.invalidArgument("X-Amz-Expires must be between 1 and 604800 seconds")
            }
            if date.addingTimeInterval(TimeInterval(expires)) < Date() { throw S3Error(.forbidden, "AccessDenied", "Request has expired") }
        } else if abs(date.timeIntervalSinceNow) > Self.maxSkew {
            throw S3Error(.forbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
        }
        guard let credential = try await credentials.ec2Credential(access: scope[0]) else {
            throw S3Error(.forbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        }
        let payload = presigned ? (request.header("x-amz-content-sha256") ?? "UNSIGNED-PAYLOAD")
            : (request.header("x-amz-content-sha256") ?? Self.emptySHA256)
        let canonical = [
            request.method.rawValue, Self.canonicalURI(request.uri.path), Self.canonicalQuery(request.uri.query, dropping: presigned ? "X-Amz-Signature" : nil),
            signedHeaders.split(separator: ";").map { "\($0):\(Self.headerValue(request, String($0)))\n" }.joined(),
            signedHeaders, payload,
        ].joined(separator: "\n")
        let credentialScope = scope[1...4].joined(separator: "/")
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(credentialScope)\n\(SHA256.hash(data: Data(canonical.utf8)).hex)"
        let key = Self.signingKey(secret: credential.secret, date: scope[1], region: scope[2])
        let expected = Self.hmac(key, stringToSign).hex
        guard expected.constantTimeEquals(signature.lowercased()) else {
            throw S3Error(.forbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        }
        var caller = try Self.caller(credential)
        if payload.hasPrefix("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
            caller.chunkSigner = ChunkSigner(key: key, date: amzDate, scope: credentialScope, seed: expected)
        } else if payload.count == 64, payload.allSatisfy(\.isHexDigit) {
            caller.payloadSHA256 = payload.lowercased()
        }
        return caller
    }

    static func signingKey(secret: String, date: String, region: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [date, region, "s3", "aws4_request"] { key = SymmetricKey(data: hmac(key, part)) }
        return key
    }

    static func hmac(_ key: SymmetricKey, _ text: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    /// The path as the client encoded it: every byte but `A-Za-z0-9-._~/` percent-encoded.
    static func canonicalURI(_ raw: String) -> String {
        let path = raw.isEmpty ? "/" : raw
        return encode(path.removingPercentEncoding ?? path, keepSlash: true)
    }

    static func canonicalQuery(_ raw: String?, dropping: String?) -> String {
        guard let raw, !raw.isEmpty else { return "" }
        let pairs = raw.split(separator: "&").map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = parts[0].removingPercentEncoding ?? parts[0]
            let value = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
            return (encode(key, keepSlash: false), encode(value, keepSlash: false))
        }.filter { $0.0 != dropping }
        return pairs.sorted { $0.0 == $1.0 ? $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) : $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash: out += "/"
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func headerValue(_ request: Request, _ name: String) -> String {
        let value: String
        if name == "host" {
            value = request.head.authority ?? ""
        } else if let field = HTTPField.Name(name) {
            value = request.headers[values: field].joined(separator: ",")
        } else {
            value = ""
        }
        return value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    static func parseAmzDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.date(from: text)
    }

    static func amzDate(_ httpDate: String) -> String? {
        guard let date = HTTPDate.parse(httpDate) else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    // MARK: V2

    private func v2Header(_ request: Request, header: String, resource: String) async throws -> S3Caller {
        let parts = header.dropFirst(4).split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw S3Error(.badRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed.") }
        let date = request.header("x-amz-date") != nil ? "" : (request.header("Date") ?? "")
        if let when = HTTPDate.parse(request.header("x-amz-date") ?? request.header("Date") ?? ""), abs(when.timeIntervalSinceNow) > Self.maxSkew {
            throw S3Error(.forbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
        }
        return try await v2(request, access: parts[0], signature: parts[1], date: date, resource: resource)
    }

    static let v2Subresources: Set<String> = ["acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
                                              "policy", "requestPayment", "response-cache-control", "response-content-disposition",
                                              "response-content-encoding", "response-content-language", "response-content-type",
                                              "response-expires", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
                                              "versions", "website"]

    private func v2(_ request: Request, access: String, signature: String, date: String, resource: String) async throws -> S3Caller {
        guard let credential = try await credentials.ec2Credential(access: access) else {
            throw S3Error(.forbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
        }
        var amz: [(String, String)] = []
        for field in request.headers where field.name.canonicalName.lowercased().hasPrefix("x-amz-") {
            amz.append((field.name.canonicalName.lowercased(), field.value.trimmingCharacters(in: .whitespaces)))
        }
        let amzText = Dictionary(amz, uniquingKeysWith: { "\($0),\($1)" }).sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)\n" }.joined()
        var sub: [String] = []
        for item in (request.uri.query ?? "").split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard Self.v2Subresources.contains(pair[0]) else { continue }
            sub.append(pair.count > 1 ? "\(pair[0])=\(pair[1].removingPercentEncoding ?? pair[1])" : pair[0])
        }
        let query = sub.isEmpty ? "" : "?" + sub.sorted().joined(separator: "&")
        // A bucket alone is signed as `/bucket` by the rules and as `/bucket/` by botocore: either will do.
        let isBucket = resource.dropFirst().split(separator: "/", omittingEmptySubsequences: false).count == 1
        let resources = [resource] + (isBucket ? [resource + "/"] : [])
        let key = SymmetricKey(data: Data(credential.secret.utf8))
        let matches = resources.contains { path in
            let stringToSign = "\(request.method.rawValue)\n\(request.header("Content-MD5") ?? "")\n\(request.header("Content-Type") ?? "")\n\(date)\n\(amzText)\(path)\(query)"
            let expected = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Data(stringToSign.utf8), using: key)).base64EncodedString()
            return expected.constantTimeEquals(signature)
        }
        guard matches else {
            throw S3Error(.forbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        }
        return try Self.caller(credential)
    }

    /// The account a checked signature acts for, if its user still has access to the project.
    private static func caller(_ credential: EC2Credential) throws -> S3Caller {
        guard credential.auth != nil else { throw S3Error.accessDenied }
        return S3Caller(account: "AUTH_" + credential.projectID, credential: credential)
    }
}

