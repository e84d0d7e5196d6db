import MartletCore

/// Nova's paging of short lists in memory: `changes-since` (and `changes-before` from 2.66) on the
/// update time, then `marker` and `limit`. Returns the page and, when more follow, the next marker.
enum Paging {
    static func page<T>(_ items: [T], _ call: APICall, version v: Microversion, id: (T) -> String,
                        updated: ((T) -> Double)? = nil) throws -> (items: [T], next: String?) {
        var items = items
        if let updated {
            for (key, after) in [("changes-since", true), ("changes-before", false)] where after || v >= Microversion(2, 66) {
                guard let text = call.query(key) else { continue }
                guard let date = Timestamp.parse(text)?.timeIntervalSince1970 else { throw APIError.badRequest("Invalid \(key) value \(text).") }
                items = items.filter { after ? updated($0) >= date : updated($0) <= date }
            }
        }
        if let marker = call.query("marker") {
            guard let index = items.firstIndex(where: { id($0) == marker }) else { throw APIError.badRequest("Marker \(marker) could not be found.") }
            items = Array(items[(index + 1)...])
        }
        guard let text = call.query("limit") else { return (items, nil) }
        guard let n = Int(text), n >= 0 else { throw APIError.badRequest("limit param must be an integer") }
        let next = items.count > n && n > 0 ? id(items[n - 1]) : nil
        return (Array(items.prefix(n)), next)
    }
}
