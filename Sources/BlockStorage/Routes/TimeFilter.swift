import Foundation
import MartletCore

/// A volume list's `created_at=gt:2026-01-01T00:00:00[,lt:…]` (3.60): the comparisons of one
/// value hold when any one of them does, as Cinder ORs them; a time never set matches none.
struct TimeFilter {
    static let operators: Set<String> = ["gt", "gte", "eq", "neq", "lt", "lte"]
    private let comparisons: [(op: String, microseconds: Int64)]

    /// The filter of query key `key`, or nil when the query has none (or it came before 3.31,
    /// where Cinder drops it). A bad operator or time is Cinder's 400.
    init?(_ key: String, _ call: APICall) throws {
        guard call.requestedVersion >= Microversion(3, 31), let raw = call.query(key) else { return nil }
        var parsed: [String: Int64] = [:]
        for unit in raw.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = unit.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let op = String(parts[0])
            guard Self.operators.contains(op) else { throw APIError.badRequest("Invalid \(op) operator") }
            let text = parts.count > 1 ? String(parts[1]) : ""
            guard let time = Self.parse(text) else { throw APIError.badRequest("Invalid \(text) value") }
            parsed[op] = Self.microseconds(time)  // a repeated operator: the last one counts
        }
        comparisons = parsed.map { ($0.key, $0.value) }
    }

    func matches(_ time: Double?) -> Bool {
        guard let time else { return false }
        let t = Self.microseconds(time)
        return comparisons.contains { c in
            switch c.op {
            case "gt": t > c.microseconds
            case "gte": t >= c.microseconds
            case "eq": t == c.microseconds
            case "neq": t != c.microseconds
            case "lt": t < c.microseconds
            default: t <= c.microseconds
            }
        }
    }

    /// Times are kept to the microsecond, as Cinder's database keeps them.
    private static func microseconds(_ seconds: Double) -> Int64 { Int64((seconds * 1_000_000).rounded()) }

    private static let pattern = try! NSRegularExpression(pattern:
        #"^(\d{4})(?:-?(\d{2})(?:-?(\d{2})(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$"#)

    /// The ISO 8601 forms Cinder's parser takes: a year, month or day alone, an hour with or
    /// without minutes and seconds, `T` or a space between, a fraction, `Z` or an offset, and the
    /// basic form without separators; a time without a zone is UTC. Seconds since 1970.
    static func parse(_ text: String) -> Double? {
        let range = NSRange(text.startIndex..., in: text)
        guard let m = pattern.firstMatch(in: text, range: range) else { return nil }
        func group(_ i: Int) -> String? { Range(m.range(at: i), in: text).map { String(text[$0]) } }
        var parts = DateComponents()
        parts.year = Int(group(1)!)
        parts.month = group(2).flatMap { Int($0) } ?? 1
        parts.day = group(3).flatMap { Int($0) } ?? 1
        parts.hour = group(4).flatMap { Int($0) } ?? 0
        parts.minute = group(5).flatMap { Int($0) } ?? 0
        parts.second = group(6).flatMap { Int($0) } ?? 0
        guard (1...12).contains(parts.month!), (1...31).contains(parts.day!), (0...23).contains(parts.hour!),
              (0...59).contains(parts.minute!), (0...59).contains(parts.second!) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: parts), calendar.component(.day, from: date) == parts.day else { return nil }
        var seconds = date.timeIntervalSince1970
        if let fraction = group(7) { seconds += Double("0." + fraction) ?? 0 }
        if let zone = group(8), zone != "Z" {
            let digits = zone.dropFirst().filter(\.isNumber)
            let offset = (Int(digits.prefix(2)) ?? 0) * 3600 + (Int(digits.dropFirst(2)) ?? 0) * 60
            seconds -= Double(zone.hasPrefix("-") ? -offset : offset)
        }
        return seconds
    }
}
