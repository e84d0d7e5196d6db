import Foundation
import HTTPTypes
import Hummingbird

/// `Range: bytes=…` as Swift reads it: several ranges allowed, syntax it cannot read ignored.
enum ByteRanges {
    /// Nil: no usable header (serve everything). Empty: nothing satisfiable (416).
    static func parse(_ header: String?, size: Int64) -> [ClosedRange<Int64>]? {
        guard let header else { return nil }
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes=") else { return nil }
        var ranges: [ClosedRange<Int64>] = []
        for spec in text.dropFirst(6).split(separator: ",") {
            let parts = spec.trimmingCharacters(in: .whitespaces).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            if parts[0].isEmpty {
                guard let suffix = Int64(parts[1]) else { return nil }
                if suffix > 0, size > 0 { ranges.append(max(0, size - suffix)...(size - 1)) }
            } else {
                guard let start = Int64(parts[0]) else { return nil }
                let end = parts[1].isEmpty ? size - 1 : (Int64(parts[1]) ?? -2)
                if end == -2 { return nil }
                if end < start { return nil }
                if start < size { ranges.append(start...min(end, size - 1)) }
            }
        }
        return ranges
    }
}

/// Conditional request headers against an object's ETag and modification time.
enum Conditions {
    enum Outcome { case proceed, notModified, preconditionFailed }

    static func evaluate(_ request: Request, etag: String, modified: Date) -> Outcome {
        let seconds = modified.timeIntervalSince1970.rounded(.up)
        if let match = request.headers[.ifMatch], !tags(match).contains("*"), !tags(match).contains(etag) { return .preconditionFailed }
        if let match = request.headers[.ifNoneMatch], tags(match).contains("*") || tags(match).contains(etag) {
            return request.method == .get || request.method == .head ? .notModified : .preconditionFailed
        }
        if let since = request.headers[.ifUnmodifiedSince].flatMap(HTTPDate.parse), seconds > since.timeIntervalSince1970 {
            return .preconditionFailed
        }
        if request.headers[.ifNoneMatch] == nil, let since = request.headers[.ifModifiedSince].flatMap(HTTPDate.parse),
           seconds <= since.timeIntervalSince1970 {
            return .notModified
        }
        return .proceed
    }

    static func tags(_ header: String) -> [String] {
        header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }
}

/// HTTP dates in the three forms RFC 9110 asks servers to accept.
enum HTTPDate {
    static func parse(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "  ", with: " ")) { return date }
        }
        return nil
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`, without a formatter on the hot path.
    static func format(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.up)), p = tm()
        gmtime_r(&t, &p)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(p.tm_wday)]), \(two(p.tm_mday)) \(months[Int(p.tm_mon)]) \(p.tm_year + 1900) \(two(p.tm_hour)):\(two(p.tm_min)):\(two(p.tm_sec)) GMT"
    }
}
