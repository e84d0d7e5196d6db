import MartletCore
import SQLKit

/// Per-project limits, Nova's defaults unless an admin set them (`-1` is unlimited). The defaults
/// themselves live under the project id `class:default`, as `os-quota-class-sets` changes them.
struct Quotas: Sendable {
    static let defaultClass = "class:default"

    static let defaults: [(String, Int)] = [
        ("instances", 10), ("cores", 20), ("ram", 51200), ("key_pairs", 100), ("server_groups", 10),
        ("server_group_members", 10), ("metadata_items", 128), ("injected_files", 5),
        ("injected_file_content_bytes", 10240), ("injected_file_path_bytes", 255),
        ("floating_ips", -1), ("fixed_ips", -1), ("security_groups", -1), ("security_group_rules", -1),
    ]
    static let resources = Set(defaults.map(\.0))

    /// The resources a microversion shows: 2.36 drops the network proxies (2.50 for quota classes, which
    /// gain the server-group ones then), 2.57 the injected files.
    static func shown(_ v: Microversion, classSet: Bool = false) -> [String] {
        let network = ["floating_ips", "fixed_ips", "security_groups", "security_group_rules"]
        return defaults.map(\.0).filter { name in
            if classSet && v < Microversion(2, 50) && name.hasPrefix("server_group") { return false }
            if v >= Microversion(2, classSet ? 50 : 36) && network.contains(name) { return false }
            if v >= Microversion(2, 57) && name.hasPrefix("injected_file") { return false }
            return true
        }
    }

    func limits(_ project: String, in db: any SQLDatabase) async throws -> [String: Int] {
        var limits = Dictionary(uniqueKeysWithValues: Self.defaults)
        for row in try await db.raw("""
            SELECT project_id, resource, hard_limit FROM cmp_quotas WHERE project_id IN (\(bind: Self.defaultClass), \(bind: project))
            ORDER BY CASE WHEN project_id = \(bind: Self.defaultClass) THEN 0 ELSE 1 END
            """).all() {
            limits[try row.decode(column: "resource", as: String.self)] = try row.decode(column: "hard_limit", as: Int.self)
        }
        return limits
    }

    func set(_ project: String, _ values: [String: Int], in db: any SQLDatabase) async throws {
        for (resource, limit) in values {
            try await db.raw("DELETE FROM cmp_quotas WHERE project_id = \(bind: project) AND resource = \(bind: resource)").run()
            try await db.raw("INSERT INTO cmp_quotas (project_id, resource, hard_limit) VALUES (\(bind: project), \(bind: resource), \(bind: limit))").run()
        }
    }

    func reset(_ project: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_quotas WHERE project_id = \(bind: project)").run()
    }

    /// How many of `wanted` servers fit the project's instances, cores and ram quotas (at most `wanted`);
    /// 403 naming the first exceeded resource when fewer than `minimum` fit.
    func fit(project: String, limits: [String: Int], minimum: Int, wanted: Int, vcpus: Int, ram: Int, store: ServerStore,
             in db: any SQLDatabase) async throws -> Int {
        // Nothing to count when no limit applies.
        if ["instances", "cores", "ram"].allSatisfy({ (limits[$0] ?? -1) < 0 }) { return wanted }
        let used = try await store.usage(project: project, in: db)
        var fits = wanted
        for (resource, per, inUse) in [("instances", 1, used.instances), ("cores", vcpus, used.cores), ("ram", ram, used.ram)] {
            guard let limit = limits[resource], limit >= 0, per > 0 else { continue }
            let room = max(0, (limit - inUse) / per)
            if room < minimum {
                throw ComputeFault.quotaExceeded(resource, requested: per * minimum, used: inUse, allowed: limit)
            }
            fits = min(fits, room)
        }
        return fits
    }

    /// 403 when `count` more of a counted resource would pass its limit.
    func check(_ resource: String, project: String, used: Int, adding: Int = 1, in db: any SQLDatabase) async throws {
        try check(resource, limits: try await limits(project, in: db), used: used, adding: adding)
    }

    func check(_ resource: String, limits: [String: Int], used: Int, adding: Int = 1) throws {
        guard let limit = limits[resource], limit >= 0 else { return }
        if used + adding > limit {
            throw APIError.forbidden("Quota exceeded, too many \(resource.replacingOccurrences(of: "_", with: " ")) (limit \(limit)).")
        }
    }
}
