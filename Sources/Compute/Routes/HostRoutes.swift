import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// The host APIs Nova kept from before placement: `os-hosts` (until 2.43) and the usage audit log.
struct HostRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-hosts", rule: "os_compute_api:os-hosts") { call in
            try requireLegacy(call)
            let zone = call.query("zone").flatMap { $0.isEmpty ? nil : $0 }
            var hosts: [JSON] = [["host_name": "martlet", "service": "scheduler", "zone": "internal"],
                                 ["host_name": "martlet", "service": "conductor", "zone": "internal"]]
            for (host, hostZone) in try await zones().sorted(by: { $0.key < $1.key }) {
                hosts.append(["host_name": .string(host), "service": "compute", "zone": .string(hostZone)])
            }
            if let zone { hosts = hosts.filter { $0["zone"]?.stringValue == zone } }
            return .json(.ok, ["hosts": .array(hosts)])
        }
        r.get("/v2.1/os-hosts/:host", rule: "os_compute_api:os-hosts") { call in
            try requireLegacy(call)
            let host = try call.param("host")
            let (provider, servers) = try await service.db.read { db in
                (try await service.placement.providers(in: db).first { $0.host == host },
                 try await service.servers.list("host = \(bind: host)", limit: nil, in: db))
            }
            guard let provider else { throw APIError.notFound("Compute host \(host) could not be found.") }
            func resource(_ project: String, cpu: Int, memory: Int, disk: Int) -> JSON {
                ["resource": ["host": .string(host), "project": .string(project), "cpu": JSON(cpu), "memory_mb": JSON(memory), "disk_gb": JSON(disk)]]
            }
            var rows = [resource("(total)", cpu: provider.vcpus, memory: provider.memoryMB, disk: provider.diskGB),
                        resource("(used_now)", cpu: servers.reduce(0) { $0 + $1.flavor.vcpus }, memory: servers.reduce(0) { $0 + $1.flavor.ram },
                                 disk: servers.reduce(0) { $0 + $1.flavor.disk }),
                        resource("(used_max)", cpu: servers.reduce(0) { $0 + $1.flavor.vcpus }, memory: servers.reduce(0) { $0 + $1.flavor.ram },
                                 disk: servers.reduce(0) { $0 + $1.flavor.disk })]
            for (project, owned) in Dictionary(grouping: servers, by: \.projectID).sorted(by: { $0.key < $1.key }) {
                rows.append(resource(project, cpu: owned.reduce(0) { $0 + $1.flavor.vcpus }, memory: owned.reduce(0) { $0 + $1.flavor.ram },
                                     disk: owned.reduce(0) { $0 + $1.flavor.disk }))
            }
            return .json(.ok, ["host": .array(rows)])
        }
        r.put("/v2.1/os-hosts/:host", rule: "os_compute_api:os-hosts") { call in
            try requireLegacy(call)
            let host = try call.param("host")
            let f = try JSONFields(try await call.body(), path: "")
            if let extra = f.members.keys.first(where: { !["status", "maintenance_mode"].contains($0) }) {
                throw APIError.badRequest("Invalid input for field/attribute \(extra). Additional properties are not allowed.")
            }
            let status = try f.string("status"), maintenance = try f.string("maintenance_mode")
            guard status != nil || maintenance != nil else { throw APIError.badRequest("'status' or 'maintenance_mode' needed for host update") }
            for value in [status, maintenance].compactMap({ $0 }) where !["enable", "disable"].contains(value) {
                throw APIError.badRequest("Invalid input for field/attribute: \(value) is not 'enable' or 'disable'.")
            }
            try await requireHost(host)
            if maintenance != nil { throw APIError.notImplemented("The fake hypervisor has no maintenance mode.") }
            let disabled = status == "disable"
            try await service.db.transaction { db in
                try await db.raw("UPDATE cmp_providers SET disabled = \(bind: disabled ? 1 : 0) WHERE host = \(bind: host)").run()
            }
            return .json(.ok, ["host": .string(host), "status": disabled ? "disabled" : "enabled"])
        }
        for action in ["reboot", "shutdown", "startup"] {
            r.get("/v2.1/os-hosts/:host/\(action)", rule: "os_compute_api:os-hosts") { call in
                try requireLegacy(call)
                try await requireHost(try call.param("host"))
                throw APIError.notImplemented("The hypervisor does not power hosts \(action == "startup" ? "up" : action == "reboot" ? "off and on" : "down").")
            }
        }
        r.get("/v2.1/os-instance_usage_audit_log", rule: "os_compute_api:os-instance-usage-audit-log") { call in
            .json(.ok, ["instance_usage_audit_logs": try await auditLog(before: nil)])
        }
        r.get("/v2.1/os-instance_usage_audit_log/:before", rule: "os_compute_api:os-instance-usage-audit-log") { call in
            let text = try call.param("before")
            guard let date = Timestamp.parse(text.replacingOccurrences(of: " ", with: "T")) else {
                throw APIError.badRequest("Invalid timestamp for date \(text)")
            }
            return .json(.ok, ["instance_usage_audit_log": try await auditLog(before: date)])
        }
    }

    private func requireLegacy(_ call: APICall) throws {
        guard service.version(call) < Microversion(2, 43) else { throw APIError.notFound("The resource could not be found.") }
    }

    private func requireHost(_ host: String) async throws {
        guard try await zones()[host] != nil else { throw APIError.notFound("Compute host \(host) could not be found.") }
    }

    private func zones() async throws -> [String: String] {
        try await service.db.read { db in
            let zones = try await Aggregates().zones(in: db)
            return Dictionary(uniqueKeysWithValues: try await service.placement.providers(in: db).map { ($0.host, zones[$0.host] ?? "nova") })
        }
    }

    /// The audit period (the last whole month before `before`) with nothing audited: Martlet runs no audit task.
    private func auditLog(before: Date?) async throws -> JSON {
        let hosts = try await zones().keys.sorted()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let now = before ?? Date()
        let end = calendar.date(from: calendar.dateComponents([.year, .month], from: now)) ?? now
        let begin = calendar.date(byAdding: .month, value: -1, to: end) ?? end
        func stamp(_ d: Date) -> String { NovaTime.precise(d.timeIntervalSince1970).replacingOccurrences(of: "T", with: " ") }
        return [
            "hosts_not_run": JSON(hosts), "log": [:], "num_hosts": JSON(hosts.count), "num_hosts_done": 0,
            "num_hosts_not_run": JSON(hosts.count), "num_hosts_running": 0,
            "overall_status": .string("0 of \(hosts.count) hosts done. 0 errors."),
            "period_beginning": .string(stamp(begin)), "period_ending": .string(stamp(end)), "total_errors": 0, "total_instances": 0,
        ]
    }
}
