import Foundation
import MartletCore
import SQLKit

/// `GET /v2/images`: visibility rules, filters, sorting and marker pagination as Glance does them.
struct ImageListing {
    let call: APICall
    let repo: ImageRepository

    static let defaultLimit = 25
    static let maxLimit = 1000
    static let sortKeys: Set<String> = ["name", "status", "container_format", "disk_format", "size", "id", "created_at",
                                        "updated_at", "min_disk", "min_ram", "visibility", "owner", "virtual_size", "protected"]
    /// Query parameters with a meaning of their own; any other names a custom property to match.
    static let reserved: Set<String> = ["limit", "marker", "sort_key", "sort_dir", "sort", "visibility", "member_status", "tag",
                                        "os_hidden", "name", "status", "owner", "disk_format", "container_format", "size_min",
                                        "size_max", "created_at", "updated_at", "id", "protected", "checksum", "os_hash_value", "min_disk", "min_ram"]

    func page() async throws -> JSON {
        let q = call.queryItems
        let access = ImageAccess(auth: call.auth)
        let limit = try Self.limit(q["limit"])
        let sort = try Self.sortOrder(q)
        let visibility = q["visibility"]
        if let visibility, visibility != "all", !ImageRecord.visibilities.contains(visibility) {
            throw APIError.badRequest("Invalid visibility value: \(visibility).")
        }
        let memberStatus = q["member_status"] ?? "accepted"
        guard memberStatus == "all" || ImageMember.statuses.contains(memberStatus) else {
            throw APIError.badRequest("Invalid member_status value: \(memberStatus).")
        }
        let hidden = q["os_hidden"].map { $0.lowercased() == "true" } ?? false

        var conditions: [SQLQueryString] = []
        if let visibility, visibility != "all" { conditions.append("visibility = \(bind: visibility)") }
        // Exact matches on indexed-style columns narrow the rows read; the in-memory filters below still apply.
        for column in ["name", "status", "owner", "disk_format", "container_format"] {
            if let raw = q[column], !raw.hasPrefix("in:") { conditions.append("\(unsafeRaw: column) = \(bind: raw)") }
        }
        let memberships = try await access.project.asyncMap { try await repo.memberships(of: $0) } ?? [:]
        var filters: [(ImageRecord) -> Bool] = []
        for key in ["name", "status", "owner", "disk_format", "container_format", "id", "checksum", "os_hash_value", "protected", "min_disk", "min_ram"] {
            guard let raw = q[key] else { continue }
            let wanted = raw.hasPrefix("in:") ? Set(Self.splitList(String(raw.dropFirst(3)))) : [raw]
            filters.append { image in
                guard let value = image.value(of: key) else { return false }
                return wanted.contains(Self.text(value))
            }
        }
        for (key, limitValue, compare) in [("size_min", q["size_min"], { (a: Int64, b: Int64) in a >= b }), ("size_max", q["size_max"], { $0 <= $1 })] {
            guard let limitValue else { continue }
            guard let bound = Int64(limitValue) else { throw APIError.badRequest("Invalid value for \(key): \(limitValue).") }
            filters.append { image in image.size.map { compare($0, bound) } ?? false }
        }
        for key in ["created_at", "updated_at"] {
            guard let raw = q[key] else { continue }
            let (op, text) = raw.contains(":") && !raw.hasPrefix("20") ? (String(raw.prefix { $0 != ":" }), String(raw.drop { $0 != ":" }.dropFirst())) : ("eq", raw)
            guard let date = Timestamp.parse(text)?.timeIntervalSince1970 else {
                throw APIError.badRequest("Invalid value for \(key): \(raw); expected [operator:]ISO-8601 time.")
            }
            let test: (Double) -> Bool
            switch op {
            case "gt": test = { $0 > date }
            case "gte": test = { $0 >= date }
            case "lt": test = { $0 < date }
            case "lte": test = { $0 <= date }
            case "eq": test = { abs($0 - date) < 1 }
            case "neq": test = { abs($0 - date) >= 1 }
            default: throw APIError.badRequest("Invalid operator '\(op)' for \(key): use gt, gte, lt, lte, eq or neq.")
            }
            filters.append { image in test(key == "created_at" ? image.createdAt.rounded(.down) : image.updatedAt.rounded(.down)) }
        }
        let tags = call.queryAll("tag")
        if !tags.isEmpty { filters.append { image in Set(tags).isSubset(of: image.tags) } }
        for (key, value) in q where !Self.reserved.contains(key) {
            filters.append { $0.properties[key] == value }
        }

        let images = try await repo.candidates(project: access.project, admin: access.isAdmin, where: conditions).filter { image in
            guard image.osHidden == hidden else { return false }
            guard listable(image, access: access, visibility: visibility, memberships: memberships, memberStatus: memberStatus) else { return false }
            return filters.allSatisfy { $0(image) }
        }.sorted { a, b in Self.precedes(a, b, sort) }

        var start = images.startIndex
        if let marker = q["marker"] {
            guard let index = images.firstIndex(where: { $0.id == marker }) else {
                throw APIError.badRequest("Marker \(marker) not found.")
            }
            start = images.index(after: index)
        }
        let pageItems = Array(images[start...].prefix(limit))
        var body: [String: JSON] = [
            "images": .array(pageItems.map { $0.json() }), "first": "/v2/images", "schema": "/v2/schemas/images",
        ]
        if pageItems.count == limit, let last = pageItems.last, start + limit < images.count {
            var params = q.filter { $0.key != "marker" }
            params["marker"] = last.id
            params["limit"] = String(limit)
            let query = params.sorted { $0.key < $1.key }.map { "\(Self.escape($0.key))=\(Self.escape($0.value))" }.joined(separator: "&")
            body["next"] = .string("/v2/images?\(query)")
        }
        return .object(body)
    }

    /// Which images a listing shows, by the visibility asked for.
    private func listable(_ image: ImageRecord, access: ImageAccess, visibility: String?, memberships: [String: String], memberStatus: String) -> Bool {
        let own = access.project != nil && image.owner == access.project
        let membership = memberships[image.id]
        let sharedWithMe = membership != nil && (memberStatus == "all" || membership == memberStatus)
        switch visibility ?? "default" {
        case "community", "public": return true
        case "all": return access.isAdmin || own || image.visibility == "public" || image.visibility == "community" || (image.visibility == "shared" && sharedWithMe)
        case "private": return access.isAdmin || own
        case "shared": return access.isAdmin || own || sharedWithMe
        default:
            if image.visibility == "community" { return own }
            return access.isAdmin || own || image.visibility == "public" || (image.visibility == "shared" && sharedWithMe)
        }
    }

    static func limit(_ raw: String?) throws -> Int {
        guard let raw else { return defaultLimit }
        guard let n = Int(raw), n >= 0 else { throw APIError.badRequest("Invalid limit: \(raw); expected a non-negative integer.") }
        return min(n, maxLimit)
    }

    /// `sort=key:dir,…`, or `sort_key`/`sort_dir` (repeatable); default newest first.
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
        for (key, _) in order where !sortKeys.contains(key) { throw APIError.badRequest("Invalid sort key: \(key).") }
        if !order.contains(where: { $0.0 == "id" }) { order.append(("id", false)) }
        return order
    }

    static func precedes(_ a: ImageRecord, _ b: ImageRecord, _ order: [(key: String, ascending: Bool)]) -> Bool {
        for (key, ascending) in order {
            let x = sortValue(a, key), y = sortValue(b, key)
            if x == y { continue }
            return ascending ? x < y : y < x
        }
        return false
    }

    /// Comparable form of an attribute: numbers compare as numbers, nulls first.
    static func sortValue(_ image: ImageRecord, _ key: String) -> SortValue {
        switch key {
        case "created_at": return .number(image.createdAt)
        case "updated_at": return .number(image.updatedAt)
        case "size": return image.size.map { .number(Double($0)) } ?? .null
        case "virtual_size": return image.virtualSize.map { .number(Double($0)) } ?? .null
        case "min_disk": return .number(Double(image.minDisk))
        case "min_ram": return .number(Double(image.minRam))
        default:
            guard let value = image.value(of: key), value != .null else { return .null }
            return .text(text(value))
        }
    }

    enum SortValue: Comparable {
        case null
        case number(Double)
        case text(String)
    }

    static func text(_ value: JSON) -> String {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        default: return value.text
        }
    }

    static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? s
    }
}
