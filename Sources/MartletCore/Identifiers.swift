import Foundation

public enum Identifier {
    /// A new lowercase UUIDv4 in its 32-hex-digit form, as Keystone shows IDs.
    public static func hex() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// A new lowercase UUIDv4 in its dashed form, as the other services show IDs.
    public static func uuid() -> String { UUID().uuidString.lowercased() }
}

public enum Timestamp {
    /// `2026-11-22T21:17:44.123456Z`: Keystone's token time format.
    public static func microseconds(_ date: Date, zone: Bool = true) -> String {
        // Round to the nearest microsecond: a stored Double is a hair off the time a client sent.
        let total = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let whole = Double(total / 1_000_000), micros = total % 1_000_000
        return iso(Date(timeIntervalSince1970: whole)).dropLast() + "." + String(format: "%06d", micros) + (zone ? "Z" : "")
    }

    /// `2026-11-22T21:17:44Z`
    public static func iso(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon).timeZone(separator: .omitted))
    }

    /// Parses the ISO 8601 forms OpenStack clients send (with or without fraction and zone).
    public static func parse(_ text: String) -> Date? {
        var s = text.trimmingCharacters(in: .whitespaces)
        if s.hasSuffix("Z") { s.removeLast() }
        if let plus = s.lastIndex(where: { $0 == "+" }), s.distance(from: s.startIndex, to: plus) > 10 {
            let zone = s[s.index(after: plus)...]
            guard zone == "00:00" || zone == "0000" else { return nil }
            s = String(s[..<plus])
        }
        var fraction = 0.0
        if let dot = s.firstIndex(of: ".") {
            fraction = Double("0" + s[dot...]) ?? 0
            s = String(s[..<dot])
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = s.count > 16 ? "yyyy-MM-dd'T'HH:mm:ss" : "yyyy-MM-dd'T'HH:mm"
        guard let date = formatter.date(from: s) else { return nil }
        return date.addingTimeInterval(fraction)
    }
}
