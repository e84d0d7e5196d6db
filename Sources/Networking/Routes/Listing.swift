import Foundation
import Hummingbird
import MartletCore
import NIOCore
import MartletStore
import SQLKit

/// A `GET /v2.0/<collection>` query: filters on any attribute (repeated values mean OR), tags,
/// `fields`, sort keys and `limit`/`marker` paging.
struct ListQuery {
    var filters: [(attribute: String, values: [String])] = []
    var fields: [String] = []
    var sorts: [(key: String, ascending: Bool)] = []
    var limit: Int?
    var marker: String?
    var pageReverse = false
    var tagsAll: [String] = [], tagsAny: [String] = [], notTagsAll: [String] = [], notTagsAny: [String] = []
    /// `fixed_ips=ip_address=…`, `subnet_id=…`, `ip_address_substr=…` on ports.
    var fixedIPs: [(key: String, value: String)] = []
    /// The query's other parameters, kept for the paging links.
    var passThrough: [(String, String)] = []

    static let booleans: Set<String> = ["admin_state_up", "shared", "router:external", "port_security_enabled", "enable_dhcp",
                                        "is_default", "stateful", "distributed", "ha"]

    init(_ request: Request, table: ResourceTable) throws {
        var grouped: [String: [String]] = [:], order: [String] = []
        var sortKeys: [String] = [], sortDirs: [String] = []
        for (key, value) in request.formQuery.items {
            switch key {
            case "fields": fields.append(value)
            case "sort_key": sortKeys.append(value)
            case "sort_dir": sortDirs.append(value)
            case "limit":
                let n = try Pagination.limit(value, max: 1_000_000) { NetFault.badRequest("Limit must be an integer 0 or greater and not '\($0)'") }
                limit = n == 0 ? nil : n
            case "marker": marker = value
            case "page_reverse": pageReverse = ["true", "1"].contains(value.lowercased())
            case "tags": tagsAll += value.split(separator: ",").map(String.init)
            case "tags-any": tagsAny += value.split(separator: ",").map(String.init)
            case "not-tags": notTagsAll += value.split(separator: ",").map(String.init)
            case "not-tags-any": notTagsAny += value.split(separator: ",").map(String.init)
            case "fixed_ips" where table.member == "port":
                let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, ["ip_address", "subnet_id", "ip_address_substr"].contains(parts[0]) else {
                    throw NetFault.badRequest("Invalid input for fixed_ips. Reason: '\(value)' is not of the form key=value with key ip_address, subnet_id or ip_address_substr.")
                }
                fixedIPs.append((parts[0], parts[1]))
            default:
                guard table.attributes.contains(key) else {
                    throw NetFault.badRequest("[\(key)] is invalid attribute for filtering", type: "HTTPBadRequest")
                }
                if grouped[key] == nil { order.append(key) }
                grouped[key, default: []].append(value)
            }
            if !["limit", "marker", "page_reverse"].contains(key) { passThrough.append((key, value)) }
        }
        filters = order.map { ($0, grouped[$0]!) }
        if sortKeys.count != sortDirs.count && !sortDirs.isEmpty {
            throw NetFault.badRequest("The number of sort_keys and sort_dirs must be same")
        }
        for (i, key) in sortKeys.enumerated() {
            guard table.attributes.contains(key) else { throw NetFault.badRequest("\(key) is an invalid attribute for sort_keys") }
            let dir = i < sortDirs.count ? sortDirs[i] : "asc"
            guard ["asc", "desc"].contains(dir) else { throw NetFault.badRequest("\(dir) is an invalid value for sort_dirs, valid values are 'asc' and 'desc'") }
            sorts.append((key, dir == "asc"))
        }
    }

    /// Whether SQL alone answers the query: filters only on indexed columns, no projection or
    /// tag/address matching, and paging by id.
    func isPlain(_ table: ResourceTable, expands: Bool, admin: Bool) -> Bool {
        !expands && fields.isEmpty && fixedIPs.isEmpty && tagsAll.isEmpty && tagsAny.isEmpty && notTagsAll.isEmpty
            && notTagsAny.isEmpty && sorts.allSatisfy { $0.key == "id" }
            && filters.allSatisfy { table.columns[$0.attribute] != nil && (admin || !table.privateAttributes.contains($0.attribute)) }
    }

    /// The SQL condition for the filters on indexed columns.
    func columnCondition(_ table: ResourceTable) -> SQLQueryString {
        var condition: SQLQueryString = "1 = 1"
        for (attribute, values) in filters {
            guard let column = table.columns[attribute] else { continue }
            let normalized = values.map { Self.booleans.contains(attribute) ? (["true", "1"].contains($0.lowercased()) ? "true" : "false") : $0 }
            condition += " AND \(unsafeRaw: column) IN \(SQLQueryString.list(normalized))" as SQLQueryString
        }
        return condition
    }

    func matches(_ doc: Doc) -> Bool {
        for (attribute, values) in filters {
            guard let value = doc[attribute], values.contains(where: { Self.matches(value, $0) }) else { return false }
        }
        let tags = Set((doc["tags"]?.array ?? []).compactMap(\.stringValue))
        if !tagsAll.isEmpty && !Set(tagsAll).isSubset(of: tags) { return false }
        if !tagsAny.isEmpty && tags.isDisjoint(with: tagsAny) { return false }
        if !notTagsAll.isEmpty && Set(notTagsAll).isSubset(of: tags) { return false }
        if !notTagsAny.isEmpty && !tags.isDisjoint(with: notTagsAny) { return false }
        if !fixedIPs.isEmpty {
            let held = doc["fixed_ips"]?.array ?? []
            for (key, wanted) in fixedIPs {
                let ok = held.contains { ip in
                    switch key {
                    case "ip_address_substr": return ip["ip_address"]?.stringValue?.contains(wanted) == true
                    default: return ip[key]?.stringValue == wanted
                    }
                }
                if !ok { return false }
            }
        }
        return true
    }

    static func matches(_ value: JSON, _ wanted: String) -> Bool {
        switch value {
        case .string(let s): return s == wanted
        case .bool(let b): return b == ["true", "1"].contains(wanted.lowercased())
        case .int(let i): return String(i) == wanted
        case .double(let d): return String(d) == wanted
        case .null: return wanted.isEmpty || wanted.lowercased() == "none"
        case .array(let items): return items.contains { matches($0, wanted) }
        case .object: return false
        }
    }

    func sorted(_ docs: [Doc]) -> [Doc] {
        let keys = sorts.isEmpty ? [("id", true)] : sorts + [("id", true)]
        return docs.sorted { a, b in
            for (key, ascending) in keys {
                let order = Self.compare(a[key] ?? .null, b[key] ?? .null)
                if order != 0 { return ascending ? order < 0 : order > 0 }
            }
            return false
        }
    }

    static func compare(_ a: JSON, _ b: JSON) -> Int {
        switch (a, b) {
        case (.null, .null): return 0
        case (.null, _): return -1
        case (_, .null): return 1
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.string(let x), .string(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        default: return a.text < b.text ? -1 : (a.text > b.text ? 1 : 0)
        }
    }

    func project(_ doc: Doc) -> Doc {
        fields.isEmpty ? doc : doc.filter { fields.contains($0.key) }
    }

    /// `<collection>_links` with `next` (when more follow) and `previous` (when this page started at a marker).
    func links(_ table: ResourceTable, baseURL: String, first: String?, last: String?, hasMore: Bool) -> JSON? {
        guard let limit else { return nil }
        func href(_ marker: String, reverse: Bool) -> String {
            var items = passThrough + [("limit", String(limit)), ("marker", marker)]
            if reverse { items.append(("page_reverse", "True")) }
            return Pagination.href("\(baseURL)/\(table.path)", items)
        }
        let (next, previous) = pageReverse ? (hasMore ? first : nil, marker != nil ? last : nil) : (hasMore ? last : nil, marker != nil ? first : nil)
        return Pagination.links(next: next.map { href($0, reverse: false) }, previous: previous.map { href($0, reverse: true) })
    }
}

/// A page of documents written straight from their stored text: the plain listing path.
struct RawPage {
    static func response(_ table: ResourceTable, rows: [NetworkStore.RawRow], admin: Bool, links: JSON?) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(rows.reduce(64) { $0 + $1.doc.utf8.count + ($1.privateDoc?.utf8.count ?? 0) + 1 })
        buffer.writeString("{\"\(table.collection)\":[")
        for (i, row) in rows.enumerated() {
            if i > 0 { buffer.writeString(",") }
            if admin, let extra = row.privateDoc, extra.count > 2, row.doc.count > 2 {
                buffer.writeSubstring(row.doc.dropLast())
                buffer.writeString(",")
                buffer.writeSubstring(extra.dropFirst())
            } else {
                buffer.writeString(row.doc)
            }
        }
        buffer.writeString("]")
        if let links {
            buffer.writeString(",\"\(table.collection)_links\":")
            buffer.writeBytes(links.serialized())
        }
        buffer.writeString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}
