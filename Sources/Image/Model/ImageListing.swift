import Foundation
import MartletCore
import MartletStore
import SQLKit

/// `GET /v2/images`: visibility rules, filters, sorting and marker pagination as Glance does them,
/// all in one SQL query that reads a page of rows, however many images there are.
struct ImageListing {
    let call: APICall
    let repo: ImageRepository

    static let defaultLimit = 25
    static let maxLimit = 1000
    /// Sort keys and the SQL that orders by them (nulls as the lowest value, on both engines).
    static let sortExpressions: [String: String] = [
        "name": "COALESCE(name, '')", "status": "status", "container_format": "COALESCE(container_format, '')",
        "disk_format": "COALESCE(disk_format, '')", "size": "COALESCE(size, -1)", "id": "id", "created_at": "created_at",
        "updated_at": "updated_at", "min_disk": "min_disk", "min_ram": "min_ram", "visibility": "visibility",
        "owner": "COALESCE(owner, '')", "virtual_size": "COALESCE(virtual_size, -1)",
        "protected": "CASE WHEN protected THEN 1 ELSE 0 END",
    ]
    /// Query parameters with a meaning of their own; any other names a custom property to match.
    static let reserved: Set<String> = ["limit", "marker", "sort_key", "sort_dir", "sort", "visibility", "member_status", "tag",
                                        "os_hidden", "name", "status", "owner", "disk_format", "container_format", "size_min",
                                        "size_max", "created_at", "updated_at", "id", "protected", "checksum", "os_hash_value", "min_disk", "min_ram"]

    func page() async throws -> JSON {
        let q = call.queryItems
        let access = ImageAccess(auth: call.auth)
        let limit = try Self.limit(q["limit"])
        let order = try Self.sortOrder(q)
        var conditions = [try visibilityCondition(q, access)]
        conditions += try filterConditions(q)

        let marker = try await Pagination.resolve(q["marker"], notFound: { APIError.badRequest("Marker \($0) not found.") }) { marker in
            let membership = try await access.project.asyncFlatMap { try await repo.member(imageID: marker, memberID: $0)?.status }
            return try await repo.image(marker).flatMap { access.canSee($0, membership: membership) ? $0 : nil }
        }
        if let marker { conditions.append(Self.after(marker, order)) }
        var condition = conditions[0]
        for next in conditions.dropFirst() { condition += " AND " as SQLQueryString; condition += next }
        let expressions = order.map { (expression: Self.sortExpressions[$0.key]!, ascending: $0.ascending) }
        let images = try await repo.db.read { try await repo.images(where: condition, order: expressions, limit: limit + 1, in: $0) }

        let page = Pagination.page(images, limit: limit)
        var body: [String: JSON] = [
            "images": .array(page.items.map { $0.json() }), "first": "/v2/images", "schema": "/v2/schemas/images",
        ]
        if page.hasMore, let last = page.items.last {
            var params = q
            params["marker"] = last.id
            params["limit"] = String(limit)
            body["next"] = .string(Pagination.href("/v2/images", params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                                   allowed: Self.linkAllowed))
        }
        return .object(body)
    }

    /// Which images a listing shows, by the visibility asked for: by default public ones, the
    /// project's own and those shared with it and accepted; community images only on request.
    private func visibilityCondition(_ q: [String: String], _ access: ImageAccess) throws -> SQLQueryString {
        let visibility = q["visibility"]
        if let visibility, visibility != "all", !ImageRecord.visibilities.contains(visibility) {
            throw APIError.badRequest("Invalid visibility value: \(visibility).")
        }
        let memberStatus = q["member_status"] ?? "accepted"
        guard memberStatus == "all" || ImageMember.statuses.contains(memberStatus) else {
            throw APIError.badRequest("Invalid member_status value: \(memberStatus).")
        }
        let project = access.project ?? ""
        let own: SQLQueryString = access.isAdmin ? "1 = 1" : "owner = \(bind: project)"
        var shared: SQLQueryString = "(visibility = 'shared' AND id IN (SELECT image_id FROM image_members WHERE member_id = \(bind: project)"
        if memberStatus != "all" { shared += " AND status = \(bind: memberStatus)" as SQLQueryString }
        shared += "))" as SQLQueryString
        switch visibility {
        case "public": return "visibility = 'public'"
        case "community": return "visibility = 'community'"
        case "private": return "visibility = 'private' AND (" + own + ")"
        case "shared": return "visibility = 'shared' AND (" + own + " OR " + shared + ")"
        case "all": return "(visibility IN ('public', 'community') OR " + own + " OR " + shared + ")"
        default:
            if access.isAdmin { return "(visibility <> 'community' OR owner = \(bind: project))" }
            return "(visibility = 'public' OR owner = \(bind: project) OR " + shared + ")"
        }
    }

    private func filterConditions(_ q: [String: String]) throws -> [SQLQueryString] {
        var conditions: [SQLQueryString] = ["os_hidden = \(bind: (q["os_hidden"]?.lowercased() ?? "false") == "true")"]
        for column in ["name", "status", "owner", "disk_format", "container_format", "id", "checksum", "os_hash_value"] {
            guard let raw = q[column] else { continue }
            let values = raw.hasPrefix("in:") ? Self.splitList(String(raw.dropFirst(3))) : [raw]
            conditions.append("\(unsafeRaw: column) IN " + SQLQueryString.list(values))
        }
        for column in ["min_disk", "min_ram"] {
            guard let raw = q[column] else { continue }
            guard let n = Int(raw) else { throw APIError.badRequest("Invalid value for \(column): \(raw).") }
            conditions.append("\(unsafeRaw: column) = \(bind: n)")
        }
        if let raw = q["protected"] {
            guard raw == "true" || raw == "false" else { throw APIError.badRequest("Invalid value for protected: \(raw).") }
            conditions.append("protected = \(bind: raw == "true")")
        }
        for (key, op) in [("size_min", ">="), ("size_max", "<=")] {
            guard let raw = q[key] else { continue }
            guard let bound = Int64(raw) else { throw APIError.badRequest("Invalid value for \(key): \(raw).") }
            conditions.append("size \(unsafeRaw: op) \(bind: bound)")
        }
        for column in ["created_at", "updated_at"] {
            guard let raw = q[column] else { continue }
            conditions.append(try Self.timeCondition(column, raw))
        }
        for tag in call.queryAll("tag") {
            conditions.append("id IN (SELECT image_id FROM image_tags WHERE tag = \(bind: tag))")
        }
        for (key, value) in q where !Self.reserved.contains(key) {
            conditions.append("id IN (SELECT image_id FROM image_properties WHERE name = \(bind: key) AND value = \(bind: value))")
        }
        return conditions
    }

    /// `[operator:]time` on a column of epoch seconds, compared at whole seconds as Glance stores them.
    static func timeCondition(_ column: String, _ raw: String) throws -> SQLQueryString {
        let hasOperator = raw.contains(":") && raw.first?.isLetter == true
        let op = hasOperator ? String(raw.prefix { $0 != ":" }) : "eq"
        let text = hasOperator ? String(raw.drop { $0 != ":" }.dropFirst()) : raw
        guard let time = Timestamp.parse(text)?.timeIntervalSince1970.rounded(.down) else {
            throw APIError.badRequest("Invalid value for \(column): \(raw); expected [operator:]ISO-8601 time.")
        }
        let next = time + 1
        switch op {
        case "gt": return "\(unsafeRaw: column) >= \(bind: next)"
        case "gte": return "\(unsafeRaw: column) >= \(bind: time)"
        case "lt": return "\(unsafeRaw: column) < \(bind: time)"
        case "lte": return "\(unsafeRaw: column) < \(bind: next)"
        case "eq": return "(\(unsafeRaw: column) >= \(bind: time) AND \(unsafeRaw: column) < \(bind: next))"
        case "neq": return "(\(unsafeRaw: column) < \(bind: time) OR \(unsafeRaw: column) >= \(bind: next))"
        default: throw APIError.badRequest("Invalid operator '\(op)' for \(column): use gt, gte, lt, lte, eq or neq.")
        }
    }

    /// Rows that come after `marker` in `order`: keyset pagination, so a page costs the same wherever it is.
    static func after(_ marker: ImageRecord, _ order: [(key: String, ascending: Bool)]) -> SQLQueryString {
        var clauses: [SQLQueryString] = []
        for (i, current) in order.enumerated() {
            var clause: SQLQueryString = "("
            for earlier in order.prefix(i) {
                clause += "\(unsafeRaw: sortExpressions[earlier.key]!) = " + sortValue(marker, earlier.key) + " AND "
            }
            clause += "\(unsafeRaw: sortExpressions[current.key]!) \(unsafeRaw: current.ascending ? ">" : "<") " + sortValue(marker, current.key) + ")"
            clauses.append(clause)
        }
        var condition: SQLQueryString = "("
        for (i, clause) in clauses.enumerated() {
            if i > 0 { condition += " OR " as SQLQueryString }
            condition += clause
        }
        return condition + ")"
    }

    /// The marker's value of a sort key, bound the way `sortExpressions` computes it.
    static func sortValue(_ image: ImageRecord, _ key: String) -> SQLQueryString {
        switch key {
        case "size": return "\(bind: image.size ?? -1)"
        case "virtual_size": return "\(bind: image.virtualSize ?? -1)"
        case "created_at": return "\(bind: image.createdAt)"
        case "updated_at": return "\(bind: image.updatedAt)"
        case "min_disk": return "\(bind: image.minDisk)"
        case "min_ram": return "\(bind: image.minRam)"
        case "protected": return "\(bind: image.protected ? 1 : 0)"
        default: return "\(bind: image.value(of: key)?.stringValue ?? "")"
        }
    }

    static func limit(_ raw: String?) throws -> Int {
        try Pagination.limit(raw, max: maxLimit) ?? defaultLimit
    }

    /// `sort=key:dir,…`, or `sort_key`/`sort_dir` (repeatable); default newest first; `id` breaks ties.
    static func sortOrder(_ q: [String: String]) throws -> [(key: String, ascending: Bool)] {
        var order: [(String, Bool)] = []
        if let sort = q["sort"] {
            if q["sort_key"] != nil || q["sort_dir"] != nil { throw APIError.badRequest("Use either sort or sort_key/sort_dir, not both.") }
            for part in splitList(sort) {
                let pieces = part.split(separator: ":", maxSplits: 1).map(String.init)
                let dir = pieces.count > 1 ? pieces[1] : "desc"
                guard dir == "asc" || dir == "desc" else { throw APIError.badRequest("Invalid sort direction: \(dir).") }
                order.append((pieces[0], dir == "asc"))
            }
        } else {
            let keys = q["sort_key"].map(splitList) ?? ["created_at"]
            let dirs = q["sort_dir"].map(splitList) ?? []
            for (i, key) in keys.enumerated() {
                let dir = i < dirs.count ? dirs[i] : (dirs.first ?? "desc")
                guard dir == "asc" || dir == "desc" else { throw APIError.badRequest("Invalid sort direction: \(dir).") }
                order.append((key, dir == "asc"))
            }
        }
        for (key, _) in order where sortExpressions[key] == nil { throw APIError.badRequest("Invalid sort key: \(key).") }
        if !order.contains(where: { $0.0 == "id" }) { order.append(("id", order.last?.1 ?? false)) }
        return order
    }

    static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// What the `next` link leaves unescaped: anything a query may hold but the separators.
    static let linkAllowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))
}
