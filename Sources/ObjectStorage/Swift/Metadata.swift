import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Swift's limits, as `/info` advertises them.
enum Limits {
    static let metaNameLength = 128
    static let metaValueLength = 256
    static let metaCount = 90
    static let metaOverallSize = 4096
    static let containerNameLength = 256
    static let objectNameLength = 1024
    static let listingLimit = 10_000
    static let maxFileSize: Int64 = 5_368_709_122
}

/// How request headers become stored metadata.
enum Metadata {
    /// Headers stored with an object besides its `X-Object-Meta-*`.
    static let objectHeaders: Set<String> = ["content-disposition", "content-encoding", "cache-control", "content-language",
                                             "expires", "x-object-manifest", "x-robots-tag"]
    /// Container settings that live with its metadata.
    static let containerSettings: Set<String> = ["x-container-read", "x-container-write", "x-versions-location",
                                                 "x-history-location", "x-container-sync-to", "x-container-sync-key"]

    static func fields(_ request: Request) -> [(name: String, value: String)] {
        request.headers.map { ($0.name.canonicalName.lowercased(), $0.value) }
    }

    /// Account or container metadata: set, empty value removes, `X-Remove-…` removes.
    static func merge(_ kind: String, _ fields: [(name: String, value: String)], into meta: inout Headers, settings: Set<String> = []) {
        let prefix = "x-\(kind)-meta-", remove = "x-remove-\(kind)-meta-"
        for (name, value) in fields {
            if name.hasPrefix(prefix) || settings.contains(name) {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { meta[name] = nil } else { meta[name] = trimmed }
            } else if name.hasPrefix(remove) {
                meta[prefix + name.dropFirst(remove.count)] = nil
            } else if name.hasPrefix("x-remove-"), settings.contains("x-" + name.dropFirst("x-remove-".count)) {
                meta["x-" + name.dropFirst("x-remove-".count)] = nil
            }
        }
    }

    /// An object's metadata from a PUT or POST: user metadata (empty values kept) and the stored headers.
    static func object(_ fields: [(name: String, value: String)]) -> Headers {
        var meta = Headers()
        for (name, value) in fields where name.hasPrefix("x-object-meta-") || objectHeaders.contains(name) {
            meta[name] = value.trimmingCharacters(in: .whitespaces)
        }
        for (name, _) in fields where name.hasPrefix("x-remove-object-meta-") {
            meta["x-object-meta-" + name.dropFirst("x-remove-object-meta-".count)] = nil
        }
        return meta
    }

    /// Swift's size rules over the `X-<Kind>-Meta-*` entries; 400 with Swift's wording when broken.
    static func validate(_ kind: String, _ meta: Headers) throws {
        let prefix = "x-\(kind)-meta-"
        var count = 0, total = 0
        for (name, value) in meta where name.hasPrefix(prefix) {
            let key = name.dropFirst(prefix.count)
            if key.isEmpty { throw APIError.badRequest("Metadata name cannot be empty") }
            if key.utf8.count > Limits.metaNameLength { throw APIError.badRequest("Metadata name too long: \(name)") }
            if value.utf8.count > Limits.metaValueLength { throw APIError.badRequest("Metadata value longer than \(Limits.metaValueLength): \(name)") }
            count += 1
            total += key.utf8.count + value.utf8.count
        }
        if count > Limits.metaCount { throw APIError.badRequest("Too many metadata items; max \(Limits.metaCount)") }
        if total > Limits.metaOverallSize { throw APIError.badRequest("Total metadata too large; max \(Limits.metaOverallSize)") }
    }

    /// Stored headers as response headers.
    static func add(_ meta: Headers, to headers: inout HTTPFields) {
        for (name, value) in meta {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
    }

    /// `X-Delete-At` from `X-Delete-At` or `X-Delete-After`; 400 for junk or a time gone by.
    static func deleteAt(_ request: Request) throws -> Int64? {
        let now = Int64(Date().timeIntervalSince1970)
        if let after = request.header("X-Delete-After") {
            guard let seconds = Int64(after.trimmingCharacters(in: .whitespaces)), seconds >= 0 else {
                throw APIError.badRequest("Non-integer X-Delete-After")
            }
            return now + seconds
        }
        if let at = request.header("X-Delete-At") {
            guard let value = Double(at.trimmingCharacters(in: .whitespaces)) else { throw APIError.badRequest("Non-integer X-Delete-At") }
            guard Int64(value) > now else { throw APIError.badRequest("X-Delete-At in past") }
            return Int64(value)
        }
        return nil
    }
}
