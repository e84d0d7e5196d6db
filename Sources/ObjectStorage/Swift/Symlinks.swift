import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// Symlinks: a zero-byte object with `X-Symlink-Target: container/object` (optionally in another
/// account) that GET and HEAD follow, up to `maxHops` links deep; `?symlink=get` shows the link.
struct Symlinks {
    let service: ObjectStorageService
    static let maxHops = 2

    /// `account/container/object` from the request's `X-Symlink-Target` (and `-Account`).
    static func target(_ call: SwiftRequest) throws -> String? {
        guard let raw = call.header("X-Symlink-Target") else { return nil }
        let value = raw.removingPercentEncoding ?? raw
        let parts = value.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw APIError.preconditionFailed("X-Symlink-Target header must be of the form <container name>/<object name>")
        }
        let account = call.header("X-Symlink-Target-Account") ?? call.account
        return "\(account)/\(value)"
    }

    /// The object a symlink ends at, readable by the caller; 404 when the chain breaks.
    func resolve(_ link: ObjectRecord, call: SwiftRequest) async throws -> ObjectRecord {
        var current = link
        var hops = 0
        while let target = current.symlink {
            hops += 1
            if hops > Self.maxHops + 1 { throw APIError.conflict("Too many levels of symbolic links, maximum allowed is \(Self.maxHops)") }
            let parts = target.split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { throw APIError.notFound("Not Found") }
            if !call.access.reads(parts[0]) {
                guard let container = try await service.catalog.container(parts[0], parts[1]),
                      call.access.canRead(acl: container.meta["x-container-read"], listing: false) else { throw call.access.denied }
            }
            guard let next = try await service.catalog.object(parts[0], parts[1], parts[2]), !next.isExpired else {
                throw APIError.notFound("Not Found")
            }
            current = next
        }
        return current
    }

    /// The link's own headers (`?symlink=get`, and on every response about a link).
    static func headers(_ link: ObjectRecord, into headers: inout HTTPFields) {
        guard let target = link.symlink else { return }
        let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        headers[HTTPField.Name("X-Symlink-Target")!] = parts[1]
        headers[HTTPField.Name("X-Symlink-Target-Account")!] = parts[0]
    }
}
