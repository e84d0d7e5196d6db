import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// One authenticated S3 request: the bucket and key it names (path-style `/bucket/key` or
/// virtual-host-style `bucket.<host>/key`) and the account its access key acts for.
struct S3Request: Sendable {
    let request: Request
    let requestID: String
    let bucket: String?
    let key: String?
    let caller: S3Caller

    var account: String { caller.account }
    var method: HTTPRequest.Method { request.method }
    func query(_ name: String) -> String? { request.uri.queryParameters.get(name) }
    func has(_ name: String) -> Bool { request.uri.queryParameters.has(Substring(name)) }
    func header(_ name: String) -> String? { request.header(name) }

    /// The upload body, unwrapped from `aws-chunked` framing and checked against the signed
    /// SHA-256 and any `Content-MD5`; the file is gone again if a check fails.
    func writeBody(_ blobs: BlobStore, limit: Int64?) async throws -> Written {
        let chunked = caller.chunkSigner != nil || (request.header("x-amz-content-sha256") ?? "").hasPrefix("STREAMING-")
            || (request.header("Content-Encoding") ?? "").contains("aws-chunked")
        let written: Written
        do {
            written = chunked ? try await blobs.write(AWSChunkedBody(base: request.body, signer: caller.chunkSigner), limit: limit)
                : try await blobs.write(request.body, limit: limit, sha256: caller.payloadSHA256 != nil)
        } catch DurableFileError.tooLarge {
            throw S3Error(.badRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        }
        do {
            try check(md5: written.md5, sha256: written.sha256)
        } catch {
            await blobs.delete(written.piece.map { [$0.file] } ?? [])
            throw error
        }
        return written
    }

    /// A small body (an XML document), checked the same way.
    func smallBody() async throws -> Substring {
        let chunked = caller.chunkSigner != nil || (request.header("x-amz-content-sha256") ?? "").hasPrefix("STREAMING-")
        var buffer = ByteBuffer()
        if chunked {
            for try await var chunk in AWSChunkedBody(base: request.body, signer: caller.chunkSigner) {
                buffer.writeBuffer(&chunk)
                if buffer.readableBytes > 2 << 20 { throw S3Error.malformedXML }
            }
        } else {
            buffer = try await request.body.collect(upTo: 2 << 20)
        }
        let bytes = Array(buffer.readableBytesView)
        try check(md5: Insecure.MD5.hash(data: bytes).hex, sha256: caller.payloadSHA256 == nil ? nil : SHA256.hash(data: bytes).hex)
        return String(decoding: bytes, as: UTF8.self)[...]
    }

    private func check(md5: String, sha256: String?) throws {
        if let expected = caller.payloadSHA256, let sha256, expected != sha256 {
            throw S3Error(.badRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        if let contentMD5 = header("Content-MD5") {
            guard let digest = Data(base64Encoded: contentMD5), digest.count == 16 else {
                throw S3Error(.badRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
            }
            if digest.hex != md5 { throw S3Error(.badRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.") }
        }
    }
}

/// The S3 listener: buckets are containers and keys are objects of the caller's account.
struct S3Server: Sendable {
    let service: ObjectStorageService
    /// Requests to `<bucket>.<this host>` name the bucket in the host.
    let virtualHostSuffix: String?

    func router() -> Router<MartletContext> {
        let router = Router(context: MartletContext.self)
        let server = self
        for method in [HTTPRequest.Method.get, .head, .put, .post, .delete] {
            router.on("/", method: method) { request, context in await server.respond(request, context) }
            router.on("/**", method: method) { request, context in await server.respond(request, context) }
        }
        return router
    }

    func respond(_ request: Request, _ context: MartletContext) async -> Response {
        let requestID = SwiftEdge.transactionID()
        var response: Response
        do {
            response = try await handle(request, requestID: requestID)
        } catch let error as S3Error {
            response = error.response(requestID: requestID, head: request.method == .head)
        } catch let error as APIError {
            response = S3Error.from(error).response(requestID: requestID, head: request.method == .head)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                service.logger.error("S3 request failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            response = S3Error.from(apiError).response(requestID: requestID, head: request.method == .head)
        }
        response.headers[HTTPField.Name("x-amz-request-id")!] = requestID
        response.headers[.openstackRequestID] = requestID
        return response
    }

    private func handle(_ request: Request, requestID: String) async throws -> Response {
        let raw = request.uri.path
        var segments = raw.dropFirst().split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var bucket: String?
        var resource = raw
        if let suffix = virtualHostSuffix, let host = request.head.authority?.split(separator: ":").first.map(String.init),
           host.hasSuffix("." + suffix) {
            bucket = String(host.dropLast(suffix.count + 1))
            resource = "/" + bucket! + raw
            segments = [""] + segments
        } else if let first = segments.first, !first.isEmpty {
            bucket = first.removingPercentEncoding ?? first
        }
        let key = segments.count > 1 && !segments[1].isEmpty ? (segments[1].removingPercentEncoding ?? segments[1]) : nil
        if let key, key.utf8.count > Limits.objectNameLength { throw S3Error(.badRequest, "KeyTooLongError", "Your key is too long") }
        let caller = try await S3Auth(credentials: service.credentials).authenticate(request, resource: resource)
        // Swift's rules: operators own the account, readers only read it.
        let access = Access(auth: caller.credential.auth, referrer: nil, roles: service.accessRoles)
        let reading = request.method == .get || request.method == .head
        guard access.owns(caller.account) || (reading && access.reads(caller.account)) else { throw S3Error.accessDenied }
        let call = S3Request(request: request, requestID: requestID, bucket: bucket, key: key, caller: caller)
        switch (bucket, key) {
        case (nil, _):
            guard request.method == .get else { throw S3Error(.methodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.") }
            return try await S3Buckets(service: service).listBuckets(call)
        case (let bucket?, nil): return try await S3Buckets(service: service).handle(call, bucket)
        case (let bucket?, let key?):
            if call.has("uploads") || call.has("uploadId") { return try await S3Multipart(service: service).handle(call, bucket, key) }
            return try await S3Objects(service: service).handle(call, bucket, key)
        }
    }
}
