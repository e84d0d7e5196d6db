import SQLKit

extension SQLQueryString {
    /// `(?, ?, …)` with each value bound, for `IN` conditions. Callers pass a non-empty list.
    public static func list(_ values: [String]) -> SQLQueryString {
        var list: SQLQueryString = "("
        for (i, value) in values.enumerated() {
            if i > 0 { list += ", " as SQLQueryString }
            list += "\(bind: value)" as SQLQueryString
        }
        return list + ")"
    }
}
