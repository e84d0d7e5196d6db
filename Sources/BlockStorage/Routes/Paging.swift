import Foundation
import MartletCore

/// Cinder's `sort=key:dir,key2` (or `sort_key`/`sort_dir`), newest first by default.
enum SortOrder {
    static func parse(_ call: APICall, allowed: Set<String>) throws -> [(key: String, ascending: Bool)] {
        var keys: [(String, Bool)] = []
        if let sort = call.query("sort") {
            for item in sort.split(separator: ",") {
                let parts = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                keys.append((parts[0], try direction(parts.count > 1 ? parts[1] : "desc")))
            }
        } else if let key = call.query("sort_key") {
            keys.append((key, try direction(call.query("sort_dir") ?? "desc")))
        } else if let dir = call.query("sort_dir") {
            keys.append(("created_at", try direction(dir)))
        }
        // `display_name` is the v1 name of `name`, which clients still sort by.
        keys = keys.map { ($0.0 == "display_name" ? "name" : $0.0, $0.1) }
        for (key, _) in keys where !allowed.contains(key) { throw BlockStorageFault.invalidInput("Invalid sort key \(key).") }
        return keys.isEmpty ? [("created_at", false)] : keys
    }

    private static func direction(_ text: String) throws -> Bool {
        switch text.lowercased() {
        case "asc": return true
        case "desc": return false
        default: throw BlockStorageFault.invalidInput("Invalid sort dirs passed: \(text)")
        }
    }

    /// What a record sorts by for one key.
    enum Value: Comparable {
        case text(String)
        case number(Double)
    }

    /// Sorts by the keys in turn, then by ID in the last key's direction (a stable order for markers).
    static func sort<T>(_ items: inout [T], by keys: [(key: String, ascending: Bool)], id: KeyPath<T, String>,
                        value: (T, String) -> Value) {
        items.sort { a, b in
            for (key, ascending) in keys {
                let (x, y) = (value(a, key), value(b, key))
                if x != y { return (x < y) == ascending }
            }
            return (keys.last?.ascending ?? false) ? a[keyPath: id] < b[keyPath: id] : a[keyPath: id] > b[keyPath: id]
        }
    }
}

/// `limit`, `marker` and `offset` over a sorted listing, with the `next` link after a full page.
enum Paging {
    static let maxLimit = 1000

    static func page<T>(_ items: [T], _ call: APICall, id: KeyPath<T, String>, path: String) throws -> (items: ArraySlice<T>, next: String?) {
        let limit = try Pagination.limit(call.query("limit"), max: maxLimit) { BlockStorageFault.invalidInput("limit must be a non-negative integer, not '\($0)'.") } ?? maxLimit
        var rest = try Pagination.after(call.query("marker"), in: items, id: { $0[keyPath: id] }, notFound: BlockStorageFault.markerNotFound)
        if let raw = call.query("offset") {
            guard let offset = Int(raw), offset >= 0 else { throw BlockStorageFault.invalidInput("offset must be a non-negative integer, not '\(raw)'.") }
            rest = rest.dropFirst(offset)
        }
        let slice = rest.prefix(limit)
        // Cinder links a next page whenever a page is full, even when nothing follows (tempest expects it).
        guard slice.count == limit, let last = slice.last else { return (slice, nil) }
        var query = call.queryItems.filter { $0.key != "marker" && $0.key != "offset" }.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }
        query.append(("marker", last[keyPath: id]))
        return (slice, Pagination.href(path, query))
    }
}
