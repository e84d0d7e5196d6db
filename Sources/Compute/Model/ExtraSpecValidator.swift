import Foundation
import MartletCore

/// Checks flavor extra specs against `ExtraSpecRules` from 2.86, with Nova's messages.
enum ExtraSpecValidator {
    private static let compiled: [(key: NSRegularExpression, rule: ExtraSpecRule)] = ExtraSpecRules.rules.compactMap { rule in
        (try? NSRegularExpression(pattern: "\\A(?:\(rule.key))\\z")).map { ($0, rule) }
    }
    private static let namespaces: [NSRegularExpression] = ExtraSpecRules.namespaces.compactMap {
        try? NSRegularExpression(pattern: "\\A(?:\($0))\\z")
    }

    static func check(_ key: String, _ value: String) throws {
        func fail(_ why: String) -> APIError { .badRequest("Validation failed; \(why).") }
        guard value.count <= 255 else { throw fail("'\(value)' is longer than 255 characters") }
        guard let rule = compiled.first(where: { matches($0.key, key) })?.rule else {
            guard let colon = key.firstIndex(of: ":") else { return }
            let namespace = String(key[..<colon])
            if namespaces.contains(where: { matches($0, namespace) }) {
                throw fail("extra spec '\(key)' does not appear to be a valid extra spec")
            }
            return
        }
        switch rule.value {
        case .int:
            let text = value.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
            guard let n = Int(text.hasPrefix("+") ? String(text.dropFirst()) : text) else { throw fail("'\(value)' is not a valid integer value") }
            if let max = rule.max, n > max { throw fail("'\(n)' is greater than the max value of '\(max)'") }
            if let min = rule.min, n < min { throw fail("'\(n)' is less than the min value of '\(min)'") }
        case .bool:
            let text = value.trimmingCharacters(in: .whitespaces).lowercased()
            guard ["1", "t", "true", "on", "y", "yes", "0", "f", "false", "off", "n", "no"].contains(text) else {
                throw fail("'\(value)' is not a valid boolean-like value")
            }
        case .string:
            if let pattern = rule.pattern, let regex = try? NSRegularExpression(pattern: "\\A(?:\(pattern))\\z"), !matches(regex, value) {
                throw fail("'\(value)' is not of the format '\(pattern)'")
            }
            if let allowed = rule.allowed, !allowed.contains(value) {
                throw fail("'\(value)' is not one of: \(allowed.joined(separator: ", "))")
            }
        }
    }

    private static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
