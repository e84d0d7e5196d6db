import MartletCore

/// Which query keys each list takes as filters (Cinder's `resource_filters.json` as it ships,
/// served at `/resource_filters` from 3.33), and the checks later microversions brought.
enum ResourceFilters {
    static let configured: [(resource: String, filters: [String])] = [
        ("volume", ["name", "status", "metadata", "bootable", "migration_status", "availability_zone", "group_id", "size",
                    "created_at", "updated_at", "consumes_quota"]),
        ("backup", ["name", "status", "volume_id"]),
        ("snapshot", ["name", "status", "volume_id", "metadata", "availability_zone", "consumes_quota"]),
        ("group", ["name"]),
        ("group_snapshot", ["name", "status", "group_id"]),
        ("attachment", ["volume_id", "status", "instance_id", "attach_status"]),
        ("message", ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"]),
        ("pool", ["name", "volume_type"]),
        ("volume_type", ["is_public", "extra_specs"]),
    ]

    /// Keys that page, sort or scope a list rather than filter it.
    static let control: Set<String> = ["limit", "marker", "offset", "sort", "sort_key", "sort_dir", "detail", "list_volume"]

    /// From 3.31 a filter the configuration does not list is a 400 for a non-admin (admins may
    /// filter by anything, except pools); `all_tenants` is dropped rather than refused, as Cinder
    /// does. From 3.34 a filter `key~` (a substring match) is allowed where `key~` is configured.
    static func check(_ call: APICall, _ resource: String) throws {
        guard call.requestedVersion >= Microversion(3, 31) else { return }
        let withCount = call.requestedVersion >= Microversion(3, 45) ? ["with_count"] : []
        let keys = call.queryItems.keys.filter { !control.contains($0) && !withCount.contains($0) }.sorted()
        guard keys.allSatisfy(\.isASCII) else { throw BlockStorageFault.invalidInput("Filter keys can only contain ASCII characters.") }
        if call.isAdmin && resource != "pool" { return }
        let allowed = Set(configured.first { $0.resource == resource }?.filters ?? [])
        let like = call.requestedVersion >= Microversion(3, 34)
        let invalid = keys.filter { key in
            key != "all_tenants" && !allowed.contains(key) && !(like && allowed.contains(key + "~"))
        }
        guard invalid.isEmpty else { throw BlockStorageFault.invalidInput("Invalid filters \(invalid.joined(separator: ",")) are found in query options.") }
    }

    /// Whether `text` passes the exact filter `key` and the substring filter `key~` of the query
    /// (from 3.31, where an admin's filters are not checked; a non-admin's from 3.34, if configured).
    static func matches(_ text: String?, _ key: String, _ call: APICall) -> Bool {
        let q = call.queryItems
        if let exact = q[key], text != exact { return false }
        if call.requestedVersion >= Microversion(3, 31), let part = q[key + "~"], !(text ?? "").contains(part) { return false }
        return true
    }

    /// `consumes_quota=<bool>` (3.65; read from 3.31, as Cinder reads its configured filters), or nil.
    /// Every volume and snapshot with a record counts against quota, so `false` matches none.
    static func consumesQuota(_ call: APICall) throws -> Bool? {
        guard call.requestedVersion >= Microversion(3, 31), let raw = call.query("consumes_quota") else { return nil }
        // Cinder names the attribute the filter is turned into.
        guard let value = try? VolumeInput.bool(.string(raw), field: "use_quota") else {
            throw APIError.badRequest("Value '\(raw)' for 'use_quota' is not a boolean.")
        }
        return value
    }

    /// `with_count=true` (3.45): the list's answer says how many match, across all pages.
    static func wantsCount(_ call: APICall) throws -> Bool {
        guard call.requestedVersion >= Microversion(3, 45), let raw = call.query("with_count") else { return false }
        guard let value = try? VolumeInput.bool(.string(raw), field: "with_count") else {
            throw BlockStorageFault.invalidInput("Value '\(raw)' for 'with_count' is not a boolean.")
        }
        return value
    }
}

extension String {
    fileprivate var isASCII: Bool { utf8.allSatisfy { $0 < 0x80 } }
}
