import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// `?bulk-delete` (a list of names in the body) and `?extract-archive=tar` (a tar whose
/// folders become containers and files objects). Both answer 200 with a per-item report.
struct BulkRoutes {
    let service: ObjectStorageService
    var catalog: ObjectCatalog { service.catalog }
    static let maxDeletes = 10_000
    static let maxArchive = 64 << 20

    func delete(_ call: SwiftRequest) async throws -> Response {
        guard call.owns else { throw call.access.denied }
        let body = try await call.request.body.collect(upTo: 16 << 20)
        let lines = String(decoding: body.readableBytesView, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.count <= Self.maxDeletes else { throw APIError.tooLarge("Maximum Bulk Deletes: \(Self.maxDeletes) per request") }
        var report = BulkReport()
        // Objects first, so the containers they were in can go after them.
        let targets = lines.map { line -> [String] in
            let path = (line.removingPercentEncoding ?? line)
            return (path.hasPrefix("/") ? String(path.dropFirst()) : path).split(separator: "/", maxSplits: 1).map(String.init)
        }
        for parts in targets where parts.count == 2 {
            if let old = try await catalog.deleteObject(call.account, parts[0], parts[1]) {
                await service.blobs.delete(old.files.map(\.file))
                report.deleted += 1
            } else {
                report.notFound += 1
            }
        }
        for parts in targets where parts.count == 1 {
            switch try await catalog.deleteContainer(call.account, parts[0]) {
            case .deleted: report.deleted += 1
            case .notFound: report.notFound += 1
            case .notEmpty: report.errors.append((parts[0], "409 Conflict"))
            }
        }
        return report.response(call.request, kind: .delete)
    }

    func extract(_ call: SwiftRequest, container: String?) async throws -> Response {
        guard call.owns else { throw call.access.denied }
        guard call.query("extract-archive") == "tar" else {
            throw APIError.badRequest("Unsupported archive format: only extract-archive=tar is served.")
        }
        let body = try await call.request.body.collect(upTo: Self.maxArchive)
        var report = BulkReport()
        let routes = ObjectRoutes(service: service)
        for entry in try TarReader.entries(Array(body.readableBytesView)) {
            let path = (container.map { $0 + "/" } ?? "") + entry.name
            let parts = path.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].utf8.count <= Limits.containerNameLength, parts[1].utf8.count <= Limits.objectNameLength else {
                if parts.count != 1 { report.errors.append((path, "400 Bad Request")) }
                continue
            }
            if try await catalog.container(call.account, parts[0]) == nil {
                _ = try await catalog.putContainer(call.account, parts[0]) { _ in }
            }
            let written = try await service.blobs.write(bytes: entry.data)
            let object = ObjectRecord(account: call.account, container: parts[0], name: parts[1], size: written.size, etag: written.md5,
                                      contentType: "application/octet-stream", modified: Micros.now(), deleteAt: nil,
                                      files: written.piece.map { [$0] } ?? [], manifest: nil, meta: [:])
            try await routes.store(object)
            report.created += 1
        }
        return report.response(call.request, kind: .extract)
    }
}

/// The body bulk operations answer with (plain text, or JSON when asked).
struct BulkReport {
    enum Kind { case delete, extract }
    var deleted = 0, notFound = 0, created = 0
    var errors: [(String, String)] = []

    func response(_ request: Request, kind: Kind) -> Response {
        let status = errors.isEmpty ? (kind == .delete ? "200 OK" : "201 Created") : "400 Bad Request"
        let json = (request.headers[.accept] ?? "").contains("application/json")
        var fields: [(String, JSON)] = kind == .delete
            ? [("Number Deleted", .int(Int64(deleted))), ("Number Not Found", .int(Int64(notFound)))]
            : [("Number Files Created", .int(Int64(created)))]
        fields += [("Response Body", ""), ("Response Status", .string(status))]
        let body: String
        if json {
            var object = Dictionary(uniqueKeysWithValues: fields)
            object["Errors"] = .array(errors.map { [.string($0.0), .string($0.1)] })
            body = String(decoding: JSON.object(object).serialized(), as: UTF8.self)
        } else {
            body = fields.map { "\($0.0): \($0.1.stringValue ?? String(describing: $0.1.int64 ?? 0))" }.joined(separator: "\n")
                + "\nErrors:\n" + errors.map { "\($0.0), \($0.1)" }.joined(separator: "\n")
        }
        return Response(status: .ok, headers: [.contentType: json ? "application/json; charset=utf-8" : "text/plain; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Regular files of a tar archive (ustar, GNU long names, pax paths).
enum TarReader {
    struct Entry { var name: String; var data: [UInt8] }

    static func entries(_ bytes: [UInt8]) throws -> [Entry] {
        var entries: [Entry] = []
        var offset = 0
        var longName: String?
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<(offset + 512)]
            if header.allSatisfy({ $0 == 0 }) { break }
            func text(_ start: Int, _ length: Int) -> String {
                let field = bytes[(offset + start)..<(offset + start + length)]
                return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let size = Int(text(124, 12).trimmingCharacters(in: .whitespaces), radix: 8) else {
                throw APIError.badRequest("Invalid Tar File: bad header")
            }
            let type = bytes[offset + 156]
            let dataStart = offset + 512
            guard dataStart + size <= bytes.count else { throw APIError.badRequest("Invalid Tar File: truncated") }
            let data = Array(bytes[dataStart..<(dataStart + size)])
            let prefix = text(345, 155)
            var name = longName ?? (prefix.isEmpty ? text(0, 100) : prefix + "/" + text(0, 100))
            longName = nil
            switch type {
            case UInt8(ascii: "L"): longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                for record in String(decoding: data, as: UTF8.self).split(separator: "\n") where record.contains(" path=") {
                    longName = String(record[record.range(of: " path=")!.upperBound...])
                }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                if name.hasPrefix("./") { name.removeFirst(2) }
                entries.append(Entry(name: name, data: data))
            default: break
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        return entries
    }
}
