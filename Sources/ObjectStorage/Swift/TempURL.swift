import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Signed URLs: `temp_url_sig` is an HMAC of `METHOD\nEXPIRES\nPATH` (or `prefix:PATH` with
/// `temp_url_prefix`) under one of the account's or container's Temp-URL keys. When the query
/// carries a signature, the signature alone decides, whatever token comes with it.
struct TempURL {
    let service: ObjectStorageService
    static let invalid = APIError(.unauthorized, "401 Unauthorized: Temp URL invalid")

    func verify(_ call: SwiftRequest, container: String, object: String) async throws {
        guard let signature = call.query("temp_url_sig"), let expiresText = call.query("temp_url_expires"),
              let expires = Self.expiry(expiresText), expires > Int64(Date().timeIntervalSince1970) else { throw Self.invalid }
        let methods: [String]
        switch call.method {
        case .get, .put, .post, .delete: methods = [call.method.rawValue]
        case .head: methods = ["HEAD", "GET", "PUT", "POST"]
        default: throw Self.invalid
        }
        if call.method == .put, call.header("X-Object-Manifest") != nil || call.header("X-Copy-From") != nil { throw Self.invalid }
        var keys: [String] = []
        if let account = try await service.catalog.account(call.account) {
            keys += ["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"].compactMap { account.meta[$0] }
        }
        if let record = try await service.catalog.container(call.account, container) {
            keys += ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"].compactMap { record.meta[$0] }
        }
        guard !keys.isEmpty, let (algorithm, digest) = Self.decode(signature) else { throw Self.invalid }
        let raw = call.request.uri.path
        let fromV1 = raw.range(of: "/v1/").map { String(raw[$0.lowerBound...]) } ?? raw
        var paths = Set([raw, fromV1, raw.removingPercentEncoding ?? raw, fromV1.removingPercentEncoding ?? fromV1])
        if let prefix = call.query("temp_url_prefix") {
            guard object.hasPrefix(prefix) else { throw Self.invalid }
            let base = "/v1/\(call.account)/\(container)/"
            let full = raw.components(separatedBy: "/v1/").first.map { $0 + base } ?? base
            paths = ["prefix:" + base + prefix, "prefix:" + full + prefix]
        }
        let ipPart = call.query("temp_url_ip_range").map { "ip=\($0)\n" } ?? ""
        for key in keys {
            for method in methods {
                for path in paths {
                    let message = Data("\(ipPart)\(method)\n\(expiresText)\n\(path)".utf8)
                    if Self.hmac(algorithm, key: Data(key.utf8), message) == digest { return }
                }
            }
        }
        throw Self.invalid
    }

    /// Unix seconds or ISO 8601 (`2024-01-01T00:00:00Z`).
    static func expiry(_ text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds }
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }

    /// Hex (its length names the hash) or `<algorithm>:<base64url>`.
    static func decode(_ signature: String) -> (String, Data)? {
        if let colon = signature.firstIndex(of: ":") {
            let algorithm = String(signature[..<colon])
            var text = String(signature[signature.index(after: colon)...]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while text.count % 4 != 0 { text += "=" }
            guard ["sha1", "sha256", "sha512"].contains(algorithm), let data = Data(base64Encoded: text) else { return nil }
            return (algorithm, data)
        }
        let algorithm: String
        switch signature.count {
        case 40: algorithm = "sha1"
        case 64: algorithm = "sha256"
        case 128: algorithm = "sha512"
        default: return nil
        }
        var bytes = Data()
        var index = signature.startIndex
        while index < signature.endIndex {
            let next = signature.index(index, offsetBy: 2)
            guard let byte = UInt8(signature[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return (algorithm, bytes)
    }

    static func hmac(_ algorithm: String, key: Data, _ message: Data) -> Data {
        let symmetric = SymmetricKey(data: key)
        switch algorithm {
        case "sha1": return Data(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: symmetric))
        case "sha512": return Data(HMAC<SHA512>.authenticationCode(for: message, using: symmetric))
        default: return Data(HMAC<SHA256>.authenticationCode(for: message, using: symmetric))
        }
    }

    /// Downloads through a temp URL are attachments named after the object, unless `inline`.
    static func disposition(_ call: SwiftRequest, object: String, into headers: inout HTTPFields) {
        guard call.method == .get || call.method == .head else { return }
        if call.has("inline") {
            headers[.contentDisposition] = "inline"
            return
        }
        let filename = call.query("filename") ?? String(object.split(separator: "/").last ?? "")
        let quoted = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? filename
        headers[.contentDisposition] = "attachment; filename=\"\(filename.replacingOccurrences(of: "\"", with: "\\\""))\"; filename*=UTF-8''\(quoted)"
    }
}
