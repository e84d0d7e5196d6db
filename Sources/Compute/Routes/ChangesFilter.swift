import MartletCore

/// Nova's `changes-since` (and `changes-before` from 2.66) on a short list's update time, applied
/// before the list is paged.
enum ChangesFilter {
    static func apply<T>(_ items: [T], _ call: APICall, version v: Microversion, updated: (T) -> Double) throws -> [T] {
        var items = items
        for (key, after) in [("changes-since", true), ("changes-before", false)] where after || v >= Microversion(2, 66) {
            guard let text = call.query(key) else { continue }
            guard let date = Timestamp.parse(text)?.timeIntervalSince1970 else { throw APIError.badRequest("Invalid \(key) value \(text).") }
            items = items.filter { after ? updated($0) >= date : updated($0) <= date }
        }
        return items
    }
}
