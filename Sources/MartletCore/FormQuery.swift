import Hummingbird

/// A query string read as `application/x-www-form-urlencoded`, as every OpenStack service reads it:
/// a `+` is a space, `%XX` a byte; names and values both decoded. One place for every service.
public struct FormQuery: Sendable {
    public let items: [(name: String, value: String)]

    public init(_ raw: String?) {
        guard let raw, !raw.isEmpty else { items = []; return }
        items = raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    public func get(_ name: String) -> String? { items.first { $0.name == name }?.value }
    public func getAll(_ name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }
    public func has(_ name: String) -> Bool { items.contains { $0.name == name } }

    /// `+` → space, then percent-decoding; text that is not valid percent-encoded UTF-8 is kept as sent.
    static func decode(_ text: Substring) -> String {
        let spaced = text.contains("+") ? text.replacingOccurrences(of: "+", with: " ") : String(text)
        guard spaced.contains("%") else { return spaced }
        return spaced.removingPercentEncoding ?? spaced
    }
}

extension Request {
    /// The query string, form-decoded.
    public var formQuery: FormQuery { FormQuery(uri.query) }
}
