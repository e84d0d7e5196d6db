import Foundation

/// The listing parameters Swift (and S3) take, for accounts and containers alike.
struct ListQuery: Sendable {
    var prefix = ""
    var delimiter: String?
    /// Exclusive: entries after it (before it when reversed).
    var marker: String?
    /// Exclusive: entries before it (after it when reversed).
    var endMarker: String?
    var limit = 10_000
    var reverse = false
}

/// One item of a listing: a stored row, or a `subdir` standing for every name under it.
enum Listed<Row: Sendable>: Sendable {
    case row(Row)
    case subdir(String)
}

/// A bound on names in a range query.
struct NameBound: Sendable {
    var name: String
    var inclusive: Bool
}

/// Walks a name-ordered table the way Swift lists: prefix, markers and reverse become index
/// bounds, and a delimiter collapses each run of names into one `subdir` and jumps past it, so
/// the work is proportional to what is returned, not to what is stored.
struct Lister<Row: Sendable> {
    /// Rows strictly between the bounds, in order (descending when asked), at most `limit`.
    let fetch: (_ lower: NameBound?, _ upper: NameBound?, _ descending: Bool, _ limit: Int) async throws -> [Row]
    let name: (Row) -> String

    func list(_ q: ListQuery) async throws -> [Listed<Row>] {
        guard q.limit > 0 else { return [] }
        let prefixUpper = q.prefix.isEmpty ? nil : Names.successor(of: q.prefix).map { NameBound(name: $0, inclusive: false) }
        var lower: NameBound? = q.prefix.isEmpty ? nil : NameBound(name: q.prefix, inclusive: true)
        var upper = prefixUpper
        var start = q.marker.flatMap { $0.isEmpty ? nil : NameBound(name: $0, inclusive: false) }
        // Resuming after a subdir: skip every name under it, not just the subdir itself.
        if !q.reverse, let marker = q.marker, let d = q.delimiter, !d.isEmpty, marker.utf8.count > q.prefix.utf8.count,
           marker.utf8.starts(with: q.prefix.utf8), marker.utf8.reversed().starts(with: d.utf8.reversed()), let next = Names.successor(of: marker) {
            start = NameBound(name: next, inclusive: true)
        }
        let end = q.endMarker.flatMap { $0.isEmpty ? nil : NameBound(name: $0, inclusive: false) }
        if q.reverse {
            upper = Names.tighterUpper(upper, start)
            lower = Names.tighterLower(lower, end)
        } else {
            lower = Names.tighterLower(lower, start)
            upper = Names.tighterUpper(upper, end)
        }
        let prefixBytes = Array(q.prefix.utf8)
        let delimiter = q.delimiter.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        var result: [Listed<Row>] = []
        scan: while result.count < q.limit {
            let want = q.limit - result.count
            let rows = try await fetch(lower, upper, q.reverse, delimiter == nil ? want : min(want + 1, 1000))
            if rows.isEmpty { break }
            for row in rows {
                let name = self.name(row)
                if !prefixBytes.isEmpty, !name.utf8.starts(with: prefixBytes) { break scan }
                if let delimiter, case let bytes = Array(name.utf8), let cut = Names.firstIndex(of: delimiter, in: bytes, from: prefixBytes.count) {
                    let subdir = String(decoding: bytes[..<(cut + delimiter.count)], as: UTF8.self)
                    result.append(.subdir(subdir))
                    // Jump past every name under the subdir.
                    if q.reverse {
                        upper = NameBound(name: subdir, inclusive: false)
                    } else {
                        guard let next = Names.successor(of: subdir) else { break scan }
                        lower = NameBound(name: next, inclusive: true)
                    }
                    continue scan
                }
                result.append(.row(row))
                if result.count == q.limit { break scan }
                if q.reverse { upper = NameBound(name: name, inclusive: false) } else { lower = NameBound(name: name, inclusive: false) }
            }
            if rows.count < (delimiter == nil ? want : min(want + 1, 1000)) { break }
        }
        return result
    }
}

enum Names {
    /// The least string greater than every string that starts with `name` (UTF-8 byte order
    /// follows scalar order): its last scalar plus one. Nil when there is none.
    static func successor(of name: String) -> String? {
        var scalars = Array(name.unicodeScalars)
        while let last = scalars.popLast() {
            var value = last.value + 1
            if value == 0xD800 { value = 0xE000 }
            if let next = Unicode.Scalar(value) {
                scalars.append(next)
                var text = String.UnicodeScalarView()
                text.append(contentsOf: scalars)
                return String(text)
            }
        }
        return nil
    }

    static func firstIndex(of needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var i = start
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// Byte-wise comparison, as the database orders names (Swift's `<` on String is not).
    static func less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    static func tighterLower(_ a: NameBound?, _ b: NameBound?) -> NameBound? {
        guard let a else { return b }
        guard let b else { return a }
        if a.name.utf8.elementsEqual(b.name.utf8) { return NameBound(name: a.name, inclusive: a.inclusive && b.inclusive) }
        return less(a.name, b.name) ? b : a
    }

    static func tighterUpper(_ a: NameBound?, _ b: NameBound?) -> NameBound? {
        guard let a else { return b }
        guard let b else { return a }
        if a.name.utf8.elementsEqual(b.name.utf8) { return NameBound(name: a.name, inclusive: a.inclusive && b.inclusive) }
        return less(a.name, b.name) ? a : b
    }
}
