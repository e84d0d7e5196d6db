import Foundation

/// OpenStack `limit` + `marker` paging: reading the two parameters, cutting a page, and writing
/// the links to the next one. The services word bad input and answer an unknown marker each
/// their own way (Glance and Nova 400, Neutron 404), so callers pass those errors in.
public enum Pagination {
    /// RFC 3986's unreserved characters: what Nova and Neutron leave unescaped in their links.
    public static let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    /// `limit`: nil when absent, else a non-negative integer, capped at `max`. Anything else is
    /// `invalid(raw)`.
    public static func limit(_ raw: String?, max: Int, invalid: (String) -> APIError = invalidLimit) throws -> Int? {
        guard let raw else { return nil }
        guard let n = Int(raw), n >= 0 else { throw invalid(raw) }
        return min(n, max)
    }

    public static func invalidLimit(_ raw: String) -> APIError {
        .badRequest("Invalid limit: \(raw); expected a non-negative integer.")
    }

    /// The items after the one `marker` names (all of them without a marker), for lists paged in
    /// memory; a marker not among them is `notFound(marker)`.
    public static func after<Items: Collection>(_ marker: String?, in items: Items, id: (Items.Element) -> String?,
                                                notFound: (String) -> APIError) throws -> Items.SubSequence {
        try after(marker, in: items, matching: { id($0) == $1 }, notFound: notFound)
    }

    /// `after(_:in:id:notFound:)` for items a marker may name more than one way (Nova's hypervisors,
    /// by number or by UUID): the marker is the first item `matching` accepts.
    public static func after<Items: Collection>(_ marker: String?, in items: Items, matching: (Items.Element, String) -> Bool,
                                                notFound: (String) -> APIError) throws -> Items.SubSequence {
        guard let marker else { return items[...] }
        guard let index = items.firstIndex(where: { matching($0, marker) }) else { throw notFound(marker) }
        return items[items.index(after: index)...]
    }

    /// What `marker` names, found by `lookup` (for keyset paging in SQL, which needs the marker's
    /// sort values); nil without a marker, `notFound(marker)` when `lookup` finds nothing.
    public static func resolve<Record>(_ marker: String?, notFound: (String) -> APIError,
                                       _ lookup: (String) async throws -> Record?) async throws -> Record? {
        guard let marker else { return nil }
        guard let record = try await lookup(marker) else { throw notFound(marker) }
        return record
    }

    /// The first `limit` items (all without a limit) and whether more follow. Read `limit + 1`
    /// rows and pass them here: the extra one only tells that there is a next page.
    public static func page<Items: Collection>(_ items: Items, limit: Int?) -> (items: Items.SubSequence, hasMore: Bool) {
        guard let limit else { return (items[...], false) }
        return (items.prefix(limit), items.count > limit)
    }

    /// `path?name=value&…` in the order given, names and values percent-encoded but for `allowed`.
    public static func href(_ path: String, _ query: [(String, String)], allowed: CharacterSet = unreserved) -> String {
        func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
        return path + "?" + query.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// `[{"rel": "next", "href": …}, {"rel": "previous", "href": …}]`, with the ones that exist:
    /// Nova's `servers_links`, Neutron's `<collection>_links`.
    public static func links(next: String?, previous: String? = nil) -> JSON {
        var links: [JSON] = []
        if let next { links.append(["rel": "next", "href": .string(next)]) }
        if let previous { links.append(["rel": "previous", "href": .string(previous)]) }
        return .array(links)
    }
}
