import DriverKit
import Foundation
import MartletCore
import MartletStore
import SQLKit

/// Resource providers (one per host, with VCPU, MEMORY_MB and DISK_GB inventories and allocation
/// ratios) and the allocations consumers hold on them. Claims happen inside the caller's transaction,
/// which on SQLite is the one writer and on PostgreSQL holds the placement lock, so two builds never
/// take the same capacity.
struct Placement: Sendable {
    let db: Database
    /// Taken first by every transaction that claims, on PostgreSQL (SQLite has one writer anyway),
    /// with the schema as its second half: clouds in other schemas of the database claim apart.
    static let lockKey = 7405133

    /// Records the driver's hosts; an operator's `disabled`/`forced_down` survive a restart.
    func register(_ hosts: [HostResources]) async throws {
        try await db.transaction { db in
            let known = Set(try await db.raw("SELECT host FROM cmp_providers").all().map { try $0.decode(column: "host", as: String.self) })
            var nextID = try await db.raw("SELECT CAST(COALESCE(MAX(hypervisor_id), 0) AS BIGINT) AS n FROM cmp_providers").first()?
                .decode(column: "n", as: Int.self) ?? 0
            let now = Date().timeIntervalSince1970
            for h in hosts {
                if known.contains(h.name) {
                    try await db.raw("""
                        UPDATE cmp_providers SET vcpus = \(bind: h.vcpus), memory_mb = \(bind: h.memoryMB), disk_gb = \(bind: h.diskGB),
                        cpu_ratio = \(bind: h.cpuAllocationRatio), ram_ratio = \(bind: h.ramAllocationRatio),
                        disk_ratio = \(bind: h.diskAllocationRatio), updated_at = \(bind: now) WHERE host = \(bind: h.name)
                        """).run()
                } else {
                    nextID += 1
                    try await db.raw("""
                        INSERT INTO cmp_providers (host, uuid, vcpus, memory_mb, disk_gb, cpu_ratio, ram_ratio, disk_ratio, disabled,
                            disabled_reason, forced_down, hypervisor_id, updated_at)
                        VALUES (\(bind: h.name), \(bind: Identifier.uuid()), \(bind: h.vcpus), \(bind: h.memoryMB), \(bind: h.diskGB),
                            \(bind: h.cpuAllocationRatio), \(bind: h.ramAllocationRatio), \(bind: h.diskAllocationRatio), 0, NULL, 0,
                            \(bind: nextID), \(bind: now))
                        """).run()
                }
            }
        }
    }

    func lock(_ db: any SQLDatabase) async throws {
        if self.db.kind == .postgres { try await db.raw("SELECT pg_advisory_xact_lock(\(unsafeRaw: String(Self.lockKey)), hashtext(current_schema()))").run() }
    }

    /// Every provider with its usage, as the scheduler sees it.
    func hosts(architectures: [String: String], in db: any SQLDatabase) async throws -> [Scheduler.Host] {
        let zones = try await Aggregates().zones(in: db)
        var used: [String: (Int, Int, Int)] = [:]
        for row in try await db.raw("""
            SELECT host, CAST(SUM(vcpus) AS BIGINT) AS v, CAST(SUM(memory_mb) AS BIGINT) AS m, CAST(SUM(disk_gb) AS BIGINT) AS d
            FROM cmp_allocations GROUP BY host
            """).all() {
            used[try row.decode(column: "host", as: String.self)] =
                (try row.decode(column: "v", as: Int.self), try row.decode(column: "m", as: Int.self), try row.decode(column: "d", as: Int.self))
        }
        return try await providers(in: db).map { p in
            let u = used[p.host] ?? (0, 0, 0)
            return Scheduler.Host(name: p.host, zone: zones[p.host] ?? "nova", enabled: !p.disabled, up: !p.forcedDown,
                                  architecture: architectures[p.host] ?? "x86_64",
                                  vcpus: p.vcpus, usedVCPUs: u.0, cpuRatio: p.cpuRatio,
                                  memoryMB: p.memoryMB, usedMemoryMB: u.1, ramRatio: p.ramRatio,
                                  diskGB: p.diskGB, usedDiskGB: u.2, diskRatio: p.diskRatio)
        }
    }

    struct Provider: Sendable {
        var host: String, uuid: String, hypervisorID: Int
        var vcpus: Int, memoryMB: Int, diskGB: Int
        var cpuRatio: Double, ramRatio: Double, diskRatio: Double
        var disabled: Bool, disabledReason: String?, forcedDown: Bool, updatedAt: Double
    }

    func providers(in db: any SQLDatabase) async throws -> [Provider] {
        try await db.raw("SELECT * FROM cmp_providers ORDER BY hypervisor_id").all().map { row in
            Provider(host: try row.decode(column: "host", as: String.self), uuid: try row.decode(column: "uuid", as: String.self),
                     hypervisorID: try row.decode(column: "hypervisor_id", as: Int.self),
                     vcpus: try row.decode(column: "vcpus", as: Int.self), memoryMB: try row.decode(column: "memory_mb", as: Int.self),
                     diskGB: try row.decode(column: "disk_gb", as: Int.self), cpuRatio: try row.decode(column: "cpu_ratio", as: Double.self),
                     ramRatio: try row.decode(column: "ram_ratio", as: Double.self), diskRatio: try row.decode(column: "disk_ratio", as: Double.self),
                     disabled: try row.decode(column: "disabled", as: Int.self) != 0,
                     disabledReason: try row.decode(column: "disabled_reason", as: String?.self),
                     forcedDown: try row.decode(column: "forced_down", as: Int.self) != 0,
                     updatedAt: try row.decode(column: "updated_at", as: Double.self))
        }
    }

    /// Usage per host: allocated resources and the number of consumers.
    func usage(in db: any SQLDatabase) async throws -> [String: (vcpus: Int, memoryMB: Int, diskGB: Int, consumers: Int)] {
        var result: [String: (vcpus: Int, memoryMB: Int, diskGB: Int, consumers: Int)] = [:]
        for row in try await db.raw("""
            SELECT host, CAST(SUM(vcpus) AS BIGINT) AS v, CAST(SUM(memory_mb) AS BIGINT) AS m, CAST(SUM(disk_gb) AS BIGINT) AS d,
            COUNT(*) AS n FROM cmp_allocations GROUP BY host
            """).all() {
            result[try row.decode(column: "host", as: String.self)] = (try row.decode(column: "v", as: Int.self),
                try row.decode(column: "m", as: Int.self), try row.decode(column: "d", as: Int.self), try row.decode(column: "n", as: Int.self))
        }
        return result
    }

    /// The disk a flavor claims, in GB.
    static func diskGB(_ flavor: FlavorSnapshot) -> Int { flavor.disk + flavor.ephemeral + flavor.swap / 1024 }

    /// Sets the consumer's allocation on `host` (replacing any it had there).
    func claim(_ consumer: String, host: String, _ flavor: FlavorSnapshot, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_allocations WHERE consumer_id = \(bind: consumer) AND host = \(bind: host)").run()
        try await db.raw("""
            INSERT INTO cmp_allocations (consumer_id, host, vcpus, memory_mb, disk_gb)
            VALUES (\(bind: consumer), \(bind: host), \(bind: flavor.vcpus), \(bind: flavor.ram), \(bind: Self.diskGB(flavor)))
            """).run()
    }

    func release(_ consumer: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_allocations WHERE consumer_id = \(bind: consumer)").run()
    }

    /// Hands the allocations of one consumer to another (a resize's source allocation to its migration).
    func transfer(from: String, to: String, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE cmp_allocations SET consumer_id = \(bind: to) WHERE consumer_id = \(bind: from)").run()
    }
}
