import Foundation

public enum Identifier {
    /// A new lowercase UUIDv4 in its 32-hex-digit form, as Keystone shows IDs.
    public static func hex() -> String { uuid(dashes: false) }

    /// A new lowercase UUIDv4 in its dashed form, as the other services show IDs.
    public static func uuid() -> String { uuid(dashes: true) }

    /// Random bytes from the system generator (getrandom) with the version-4 and variant bits set,
    /// as Foundation's UUID() makes them: on Linux that one opened and read /dev/urandom on every
    /// call, a cost every request paid for its request ID.
    static func uuid(dashes: Bool) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | 0x40
            raw[8] = (raw[8] & 0x3F) | 0x80
            let digits: StaticString = "0123456789abcdef"
            return digits.withUTF8Buffer { digits in
                String(unsafeUninitializedCapacity: 36) { out in
                    var n = 0
                    for (i, byte) in raw.enumerated() {
                        if dashes && (i == 4 || i == 6 || i == 8 || i == 10) { out[n] = UInt8(ascii: "-"); n += 1 }
                        out[n] = digits[Int(byte >> 4)]
                        out[n + 1] = digits[Int(byte & 0xF)]
                        n += 2
                    }
                    return n
                }
            }
        }
    }
}

public enum Timestamp {
    /// `2026-11-22T21:17:44.123456Z`: Keystone's token time format.
    public static func microseconds(_ date: Date, zone: Bool = true) -> String {
        // Round to the nearest microsecond: a stored Double is a hair off the time a client sent.
        let total = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let whole = total.floorDivided(by: 1_000_000)
        var text = civil(whole)
        text.append(".")
        text.append(digits(total - whole * 1_000_000, width: 6))
        if zone { text.append("Z") }
        return text
    }

    /// `2026-11-22T21:17:44Z`
    public static func iso(_ date: Date) -> String {
        civil(Int64(date.timeIntervalSince1970.rounded(.down))) + "Z"
    }

    /// `2026-11-22T21:17:44` (UTC) for seconds since 1970, computed rather than formatted: listings
    /// print thousands of times. Days to a civil date as in Howard Hinnant's `civil_from_days`.
    static func civil(_ seconds: Int64) -> String {
        let days = seconds.floorDivided(by: 86_400), second = seconds - days * 86_400
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return digits(year, width: 4) + "-" + digits(month, width: 2) + "-" + digits(day, width: 2) + "T"
            + digits(second / 3600, width: 2) + ":" + digits(second / 60 % 60, width: 2) + ":" + digits(second % 60, width: 2)
    }

    private static func digits(_ value: Int64, width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
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
        guard let seconds = seconds(civil: Array(s.utf8)) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// `yyyy-MM-ddTHH:mm[:ss]` to seconds since 1970, or nil unless it names a real time; computed,
    /// as `civil` is (listings and usage parse thousands), with Hinnant's `days_from_civil`.
    static func seconds(civil text: [UInt8]) -> Int64? {
        guard text.count == 16 || text.count == 19 else { return nil }
        func number(_ at: Int, _ width: Int) -> Int64? {
            var value: Int64 = 0
            for byte in text[at..<(at + width)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let separators: [(Int, Unicode.Scalar)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":")] + (text.count == 19 ? [(16, ":")] : [])
        guard separators.allSatisfy({ text[$0.0] == UInt8(ascii: $0.1) }),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = text.count == 19 ? number(17, 2) : 0,
              (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...monthDays[Int(month - 1)]).contains(day) else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }
}

extension Int64 {
    /// Division rounding toward minus infinity (times before 1970 too).
    func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
