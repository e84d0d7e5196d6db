import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Browser uploads: a `multipart/form-data` POST whose fields (`redirect`, `max_file_size`,
/// `max_file_count`, `expires`, `signature`) are signed with a Temp-URL key; each file part
/// becomes the object `<prefix><filename>`.
struct FormPost {
    let service: ObjectStorageService
    static let maxBody = 256 << 20

    static func applies(_ call: SwiftRequest) -> Bool {
        call.method == .post && (call.header("Content-Type") ?? "").lowercased().hasPrefix("multipart/form-data")
    }

    func handle(_ call: SwiftRequest, container: String, prefix: String) async throws -> Response {
        guard let boundary = Self.boundary(call.header("Content-Type") ?? "") else { throw APIError.badRequest("FormPost: invalid boundary") }
        let body = try await call.request.body.collect(upTo: Self.maxBody)
        let parts = Self.parts(Array(body.readableBytesView), boundary: boundary)
        var fields: [String: String] = [:]
        var status = "201 Created", message = ""
        var files = 0
        for part in parts {
            guard let filename = part.filename else {
                fields[part.name] = String(decoding: part.data, as: UTF8.self)
                continue
            }
            if files == 0 { try await verify(call, fields) }
            files += 1
            if files > Int(fields["max_file_count"] ?? "") ?? 0 { status = "400 Bad Request"; message = "max file count exceeded"; break }
            if part.data.count > Int(fields["max_file_size"] ?? "") ?? 0 { status = "400 Bad Request"; message = "max_file_size exceeded"; break }
            guard try await service.catalog.container(call.account, container) != nil else { throw APIError.notFound("Not Found") }
            let written = try await service.blobs.write(bytes: part.data)
            let object = ObjectRecord(account: call.account, container: container, name: prefix + filename, size: written.size,
                                      etag: written.md5, contentType: part.contentType ?? "application/octet-stream", modified: Micros.now(),
                                      deleteAt: fields["x_delete_at"].flatMap(Int64.init) ?? fields["x_delete_after"].flatMap(Int64.init).map { Int64(Date().timeIntervalSince1970) + $0 },
                                      files: written.piece.map { [$0] } ?? [], manifest: nil, meta: [:])
            try await ObjectRoutes(service: service).store(object)
        }
        if files == 0 { try await verify(call, fields) }
        if let redirect = fields["redirect"], !redirect.isEmpty {
            let separator = redirect.contains("?") ? "&" : "?"
            let code = status.prefix(3)
            let text = message.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return Response(status: .seeOther, headers: [.location: "\(redirect)\(separator)status=\(code)&message=\(text)", .contentType: "text/plain"])
        }
        let code = Int(status.prefix(3)) ?? 201
        return Response(status: HTTPResponse.Status(code: code), headers: [.contentType: "text/plain"],
                        body: .init(byteBuffer: ByteBuffer(string: message.isEmpty ? status : "\(status)\r\nFormPost: \(message)")))
    }

    /// The form's signature under one of the Temp-URL keys, and its expiry.
    private func verify(_ call: SwiftRequest, _ fields: [String: String]) async throws {
        guard let expires = fields["expires"].flatMap(Int64.init), expires > Int64(Date().timeIntervalSince1970) else {
            throw APIError.unauthorized("FormPost: Form Expired")
        }
        guard let signature = fields["signature"], let (algorithm, digest) = TempURL.decode(signature) else {
            throw APIError.unauthorized("FormPost: Invalid Signature")
        }
        var keys: [String] = []
        if let account = try await service.catalog.account(call.account) {
            keys += ["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"].compactMap { account.meta[$0] }
        }
        if let container = call.container, let record = try await service.catalog.container(call.account, container) {
            keys += ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"].compactMap { record.meta[$0] }
        }
        let raw = call.request.uri.path
        let fromV1 = raw.range(of: "/v1/").map { String(raw[$0.lowerBound...]) } ?? raw
        let tail = "\n\(fields["redirect"] ?? "")\n\(fields["max_file_size"] ?? "")\n\(fields["max_file_count"] ?? "")\n\(expires)"
        for key in keys {
            for path in Set([raw, fromV1, raw.removingPercentEncoding ?? raw]) {
                if TempURL.hmac(algorithm, key: Data(key.utf8), Data((path + tail).utf8)) == digest { return }
            }
        }
        throw APIError.unauthorized("FormPost: Invalid Signature")
    }

    struct Part {
        var name = ""
        var filename: String?
        var contentType: String?
        var data: [UInt8] = []
    }

    static func boundary(_ contentType: String) -> String? {
        for item in contentType.split(separator: ";") {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == "boundary" { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    /// The parts of a `multipart/form-data` body, in order.
    static func parts(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        var starts: [Int] = []
        var i = 0
        while i + delimiter.count <= body.count {
            if body[i] == delimiter[0], body[i..<(i + delimiter.count)].elementsEqual(delimiter) { starts.append(i); i += delimiter.count } else { i += 1 }
        }
        for (index, start) in starts.enumerated() where index + 1 < starts.count {
            var from = start + delimiter.count
            if from + 2 <= body.count, body[from] == 13, body[from + 1] == 10 { from += 2 }
            var to = starts[index + 1]
            if to >= 2, body[to - 2] == 13, body[to - 1] == 10 { to -= 2 }
            guard from <= to else { continue }
            let chunk = Array(body[from..<to])
            guard let split = Names.firstIndex(of: [13, 10, 13, 10], in: chunk, from: 0) else { continue }
            var part = Part()
            for line in String(decoding: chunk[..<split], as: UTF8.self).components(separatedBy: "\r\n") {
                let lower = line.lowercased()
                if lower.hasPrefix("content-disposition:") {
                    part.name = Self.parameter("name", in: line) ?? ""
                    part.filename = Self.parameter("filename", in: line)
                } else if lower.hasPrefix("content-type:") {
                    part.contentType = line.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
                }
            }
            part.data = Array(chunk[(split + 4)...])
            parts.append(part)
        }
        return parts
    }

    static func parameter(_ name: String, in line: String) -> String? {
        for item in line.split(separator: ";") {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == name { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }
}
