import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import MartletCore
import MartletTestSupport
import Testing
@testable import ObjectStorage

/// A Signature V4 signer written from the AWS description, independent of the server's.
struct TestSigner {
    let access: String
    let secret: String

    func hex(_ data: some Sequence<UInt8>) -> String { data.map { String(format: "%02x", $0) }.joined() }

    func headers(_ method: String, _ path: String, query: String = "", body: [UInt8], host: String, payload: String? = nil,
                 secret override: String? = nil) -> [String: String] {
        let now = Date()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: now)
        let day = String(amzDate.prefix(8))
        let payloadHash = payload ?? hex(SHA256.hash(data: body))
        let canonicalQuery = query.split(separator: "&").map { $0.contains("=") ? String($0) : "\($0)=" }.sorted().joined(separator: "&")
        let canonical = "\(method)\n\(path)\n\(canonicalQuery)\nhost:\(host)\nx-amz-content-sha256:\(payloadHash)\nx-amz-date:\(amzDate)\n\nhost;x-amz-content-sha256;x-amz-date\n\(payloadHash)"
        let scope = "\(day)/us-east-1/s3/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(hex(SHA256.hash(data: Data(canonical.utf8))))"
        var key = SymmetricKey(data: Data("AWS4\(override ?? secret)".utf8))
        for part in [day, "us-east-1", "s3", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        return ["x-amz-date": amzDate, "x-amz-content-sha256": payloadHash,
                "Authorization": "AWS4-HMAC-SHA256 Credential=\(access)/\(scope), SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=\(signature)"]
    }
}

@Suite struct S3Tests {
    /// Runs `body` with a signer holding fresh EC2 credentials for the admin and an S3 client.
    func withS3(_ body: @Sendable (TestSigner, S3Client) async throws -> Void) async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        let signer = try await cloud.serve { client -> TestSigner in
            let token = try await client.token()
            let me = try await client.call(.get, "/identity/v3/auth/tokens", token: token, headers: ["X-Subject-Token": token])
            let user = me["token"]?["user"]?["id"]?.stringValue ?? "", project = me["token"]?["project"]?["id"]?.stringValue ?? ""
            let made = try await client.call(.post, "/identity/v3/users/\(user)/credentials/OS-EC2", token: token, json: ["tenant_id": .string(project)])
            return TestSigner(access: made["credential"]?["access"]?.stringValue ?? "", secret: made["credential"]?["secret"]?.stringValue ?? "")
        }
        let app = Application(router: cloud.objects.s3Router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { try await body(signer, S3Client(http: $0, signer: signer)) }
    }

    @Test func signedRequestsReachTheSameStore() async throws {
        try await withS3 { signer, s3 in
            #expect(try await s3.send(.put, "/bucket-one").status == .ok)
            let data = Array("s3 bytes".utf8)
            let put = try await s3.send(.put, "/bucket-one/dir/key.txt", body: data, headers: ["x-amz-meta-owner": "me", "Content-Type": "text/plain"])
            #expect(put.status == .ok)
            #expect(put.headers[HTTPField.Name("ETag")!] == "\"\(signer.hex(Insecure.MD5.hash(data: data)))\"")
            let get = try await s3.send(.get, "/bucket-one/dir/key.txt")
            #expect(Array(get.body.readableBytesView) == data)
            #expect(get.headers[HTTPField.Name("x-amz-meta-owner")!] == "me")
            let list = try await s3.send(.get, "/bucket-one", query: "delimiter=%2F&list-type=2")
            let xml = String(buffer: list.body)
            #expect(xml.contains("<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>") && xml.contains("<KeyCount>1</KeyCount>"))
            let missing = try await s3.send(.get, "/bucket-one/nope")
            #expect(missing.status == .notFound && String(buffer: missing.body).contains("<Code>NoSuchKey</Code>"))
            let busy = try await s3.send(.delete, "/bucket-one")
            #expect(busy.status == .conflict && String(buffer: busy.body).contains("BucketNotEmpty"))
        }
    }

    @Test func forgedOrTamperedRequestsAreRefused() async throws {
        try await withS3 { signer, s3 in
            let forged = try await s3.send(.put, "/bucket-two", secret: "not-the-secret")
            #expect(forged.status == .forbidden && String(buffer: forged.body).contains("SignatureDoesNotMatch"))
            #expect(try await s3.send(.put, "/bucket-two").status == .ok)
            // The body does not match the SHA-256 the signature covers: refused, nothing stored.
            let tampered = try await s3.send(.put, "/bucket-two/k", body: Array("real".utf8), payload: signer.hex(SHA256.hash(data: Array("other".utf8))))
            #expect(tampered.status == .badRequest && String(buffer: tampered.body).contains("XAmzContentSHA256Mismatch"))
            #expect(try await s3.send(.head, "/bucket-two/k").status == .notFound)
            let anonymous = try await s3.http.execute(uri: "/bucket-two", method: .get, headers: [:], body: nil)
            #expect(anonymous.status == .forbidden)
        }
    }

    @Test func multipartUploadsJoinPartsWithS3sETag() async throws {
        try await withS3 { signer, s3 in
            #expect(try await s3.send(.put, "/parts").status == .ok)
            let created = try await s3.send(.post, "/parts/big", query: "uploads")
            let upload = String(buffer: created.body).firstMatch(of: /<UploadId>([0-9a-f]+)<\/UploadId>/)?.1 ?? ""
            let first = [UInt8](repeating: 1, count: 5 << 20), second = Array("tail".utf8)
            var etags: [String] = []
            for (number, part) in [first, second].enumerated() {
                let reply = try await s3.send(.put, "/parts/big", query: "partNumber=\(number + 1)&uploadId=\(upload)", body: part)
                etags.append(reply.headers[HTTPField.Name("ETag")!] ?? "")
            }
            let tooSmall = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\(etags[1])</ETag></Part><Part><PartNumber>1</PartNumber><ETag>\(etags[0])</ETag></Part></CompleteMultipartUpload>"
            #expect(String(buffer: try await s3.send(.post, "/parts/big", query: "uploadId=\(upload)", body: Array(tooSmall.utf8)).body).contains("InvalidPartOrder"))
            let complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(etags[0])</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\(etags[1])</ETag></Part></CompleteMultipartUpload>"
            let done = try await s3.send(.post, "/parts/big", query: "uploadId=\(upload)", body: Array(complete.utf8))
            let md5s = Insecure.MD5.hash(data: first).map { $0 } + Insecure.MD5.hash(data: second).map { $0 }
            let expected = "\(signer.hex(Insecure.MD5.hash(data: md5s)))-2"
            #expect(String(buffer: done.body).contains("<ETag>&quot;\(expected)&quot;</ETag>") || String(buffer: done.body).contains("\"\(expected)\""))
            // An upload with an empty part, completed, then aborted ones: the store keeps its files.
            let other = String(buffer: try await s3.send(.post, "/parts/empty", query: "uploads").body).firstMatch(of: /<UploadId>([0-9a-f]+)<\/UploadId>/)?.1 ?? ""
            let empty = try await s3.send(.put, "/parts/empty", query: "partNumber=1&uploadId=\(other)")
            #expect(empty.status == .ok)
            let one = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(empty.headers[HTTPField.Name("ETag")!] ?? "")</ETag></Part></CompleteMultipartUpload>"
            #expect(try await s3.send(.post, "/parts/empty", query: "uploadId=\(other)", body: Array(one.utf8)).status == .ok)
            #expect(try await s3.send(.head, "/parts/empty").headers[.contentLength] == "0")
            let tail = try await s3.send(.get, "/parts/big", headers: ["Range": "bytes=\(5 << 20)-"])
            #expect(tail.status == .partialContent && Array(tail.body.readableBytesView) == second)
            #expect(try await s3.send(.head, "/parts/big").headers[.contentLength] == String((5 << 20) + 4))
        }
    }
}

struct S3Client: Sendable {
    let http: any TestClientProtocol
    let signer: TestSigner

    func send(_ method: HTTPRequest.Method, _ path: String, query: String = "", body: [UInt8] = [], headers extra: [String: String] = [:],
              payload: String? = nil, secret: String? = nil) async throws -> TestResponse {
        let host = "localhost"  // what the live test client sends
        var headers: HTTPFields = [:]
        for (k, v) in signer.headers(method.rawValue, path, query: query, body: body, host: host, payload: payload, secret: secret) {
            headers[HTTPField.Name(k)!] = v
        }
        for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
        return try await http.execute(uri: query.isEmpty ? path : "\(path)?\(query)", method: method, headers: headers,
                                      body: body.isEmpty ? nil : ByteBuffer(bytes: body))
    }
}
