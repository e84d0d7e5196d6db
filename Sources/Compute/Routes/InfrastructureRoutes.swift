import DriverKit
import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// The operator's view: availability zones, hypervisors, services, host aggregates, migrations and usage.
struct InfrastructureRoutes {
    let service: ComputeService
    let aggregates = Aggregates()
    /// The controller's own services, on the host `martlet` in the `internal` zone.
    static let controllerServices = ["nova-scheduler", "nova-conductor"]

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-availability-zone", rule: "os_compute_api:os-availability-zone:list") { call in
            let zones = try await hostZones()
            let names = Set(zones.values).sorted()
            return .json(.ok, ["availabilityZoneInfo": .array(names.map { ["zoneName": .string($0), "zoneState": ["available": true], "hosts": nil] })])
        }
        r.get("/v2.1/os-availability-zone/detail", rule: "os_compute_api:os-availability-zone:detail") { call in
            let zones = try await hostZones()
            let now = JSON.string(NovaTime.precise(Date().timeIntervalSince1970))
            var info: [JSON] = [[
                "zoneName": "internal", "zoneState": ["available": true],
                "hosts": ["martlet": .object(Dictionary(uniqueKeysWithValues: Self.controllerServices.map {
                    ($0, ["available": true, "active": true, "updated_at": now] as JSON)
                }))],
            ]]
            for zone in Set(zones.values).sorted() {
                let hosts = zones.filter { $0.value == zone }.keys.sorted()
                info.append(["zoneName": .string(zone), "zoneState": ["available": true],
                             "hosts": .object(Dictionary(uniqueKeysWithValues: hosts.map {
                                 ($0, ["nova-compute": ["available": true, "active": true, "updated_at": now]] as JSON)
                             }))])
            }
            return .json(.ok, ["availabilityZoneInfo": .array(info)])
        }
        registerHypervisors(r)
        registerServices(r)
        registerAggregates(r)
        r.get("/v2.1/os-migrations", rule: "os_compute_api:os-migrations:index") { call in
            let v = service.version(call)
            var condition: SQLQueryString = "1 = 1"
            if let host = call.query("host") { condition += " AND (source_host = \(bind: host) OR dest_host = \(bind: host))" as SQLQueryString }
            if let status = call.query("status") { condition += " AND status = \(bind: status)" as SQLQueryString }
            if let server = call.query("instance_uuid") { condition += " AND server_id = \(bind: server)" as SQLQueryString }
            if let kind = call.query("migration_type"), v >= Microversion(2, 23) { condition += " AND kind = \(bind: kind)" as SQLQueryString }
            if v >= Microversion(2, 80) {
                if let user = call.query("user_id") { condition += " AND user_id = \(bind: user)" as SQLQueryString }
                if let project = call.query("project_id") { condition += " AND project_id = \(bind: project)" as SQLQueryString }
            }
            var list = try await service.db.read { try await Migrations().list(condition, in: $0) }
            var links: JSON?
            if v >= Microversion(2, 59) {
                var allowed: Set<String> = ["host", "status", "instance_uuid", "migration_type", "source_compute", "hidden", "limit", "marker",
                                            "changes-since", "changes-before"]
                if v >= Microversion(2, 80) { allowed.formUnion(["user_id", "project_id"]) }
                if let unknown = call.queryItems.keys.first(where: { !allowed.contains($0) }) {
                    throw APIError.badRequest("Invalid input for query parameters \(unknown). Additional properties are not allowed ('\(unknown)' was unexpected)")
                }
                list = try ChangesFilter.apply(list, call, version: v, updated: \.updatedAt)
                let after = try Pagination.after(call.query("marker"), in: list, id: \.uuid, notFound: ComputeFault.markerCouldNotBeFound)
                let page = Pagination.page(after, limit: try Pagination.limit(call.query("limit"), max: .max, invalid: ComputeFault.invalidLimit))
                list = Array(page.items)
                if page.hasMore, let last = page.items.last {
                    links = service.links.next(path: "os-migrations", marker: last.uuid, query: call.queryItems)
                }
            }
            var body: [String: JSON] = ["migrations": .array(list.map { $0.json(v) })]
            if let links { body["migrations_links"] = links }
            return .json(.ok, .object(body))
        }
        r.get("/v2.1/os-simple-tenant-usage", rule: "os_compute_api:os-simple-tenant-usage:list") { call in
            // `os-simple-tenant-usage/` names an empty project, not the list.
            if call.request.uri.path.hasSuffix("/") { throw APIError.notFound("The resource could not be found.") }
            let (usages, links) = try await usage(call, project: nil)
            var body: [String: JSON] = ["tenant_usages": .array(usages)]
            if let links { body["tenant_usages_links"] = links }
            return .json(.ok, .object(body))
        }
        r.get("/v2.1/os-simple-tenant-usage/:project_id", rule: "os_compute_api:os-simple-tenant-usage:show") { call in
            let project = try call.param("project_id")
            try call.enforce("os_compute_api:os-simple-tenant-usage:show", ["project_id": project])
            let (usages, links) = try await usage(call, project: project)
            var body: [String: JSON] = ["tenant_usage": usages.first ?? [:]]
            if let links { body["tenant_usage_links"] = links }
            return .json(.ok, .object(body))
        }
    }

    /// Every host's zone: its aggregate's, else `nova`.
    private func hostZones() async throws -> [String: String] {
        try await service.db.read { db in
            let zones = try await aggregates.zones(in: db)
            return Dictionary(uniqueKeysWithValues: try await service.placement.providers(in: db).map { ($0.host, zones[$0.host] ?? "nova") })
        }
    }

    // MARK: Hypervisors

    private func registerHypervisors(_ r: PolicyRouter) {
        r.get("/v2.1/os-hypervisors", rule: "os_compute_api:os-hypervisors") { call in try await hypervisors(call, detail: false) }
        r.get("/v2.1/os-hypervisors/detail", rule: "os_compute_api:os-hypervisors") { call in try await hypervisors(call, detail: true) }
        r.get("/v2.1/os-hypervisors/statistics", rule: "os_compute_api:os-hypervisors") { call in
            guard service.version(call) < Microversion(2, 88) else { throw APIError.notFound("The resource could not be found.") }
            let (providers, usage) = try await service.db.read { db in (try await service.placement.providers(in: db), try await service.placement.usage(in: db)) }
            var totals: [String: Int] = [:]
            for p in providers {
                let u = usage[p.host] ?? (0, 0, 0, 0)
                for (key, value) in [("vcpus", p.vcpus), ("vcpus_used", u.vcpus), ("memory_mb", p.memoryMB), ("memory_mb_used", u.memoryMB),
                                     ("local_gb", p.diskGB), ("local_gb_used", u.diskGB), ("free_ram_mb", p.memoryMB - u.memoryMB),
                                     ("free_disk_gb", p.diskGB - u.diskGB), ("running_vms", u.consumers), ("disk_available_least", p.diskGB - u.diskGB)] {
                    totals[key, default: 0] += value
                }
            }
            totals["count"] = providers.count
            totals["current_workload"] = 0
            return .json(.ok, ["hypervisor_statistics": .object(totals.mapValues { JSON($0) })])
        }
        r.get("/v2.1/os-hypervisors/:id", rule: "os_compute_api:os-hypervisors") { call in
            let (p, u) = try await hypervisor(call)
            var body = try await hypervisorJSON(p, u, call, detail: true)
            if service.version(call) >= Microversion(2, 53), ["1", "true", "True"].contains(call.query("with_servers") ?? "") {
                body = body.merging(["servers": try await serversOn(p.host)])
            }
            return .json(.ok, ["hypervisor": body])
        }
        r.get("/v2.1/os-hypervisors/:id/uptime", rule: "os_compute_api:os-hypervisors") { call in
            guard service.version(call) < Microversion(2, 88) else { throw APIError.notFound("The resource could not be found.") }
            let (p, u) = try await hypervisor(call)
            let body = try await hypervisorJSON(p, u, call, detail: false).merging(["uptime": " 06:00:00 up 1 day,  1 user,  load average: 0.00, 0.00, 0.00"])
            return .json(.ok, ["hypervisor": body])
        }
        for suffix in ["search", "servers"] {
            r.get("/v2.1/os-hypervisors/:id/\(suffix)", rule: "os_compute_api:os-hypervisors") { call in
                guard service.version(call) < Microversion(2, 53) else { throw APIError.notFound("The resource could not be found.") }
                let pattern = try call.param("id")
                let (providers, usage) = try await service.db.read { db in (try await service.placement.providers(in: db), try await service.placement.usage(in: db)) }
                let matching = providers.filter { $0.host.contains(pattern) }
                guard !matching.isEmpty else { throw APIError.notFound("No hypervisor matching '\(pattern)' could be found.") }
                var list: [JSON] = []
                for p in matching {
                    var body = try await hypervisorJSON(p, usage[p.host] ?? (0, 0, 0, 0), call, detail: false)
                    if suffix == "servers" { body = body.merging(["servers": try await serversOn(p.host)]) }
                    list.append(body)
                }
                return .json(.ok, ["hypervisors": .array(list)])
            }
        }
    }

    private func hypervisors(_ call: APICall, detail: Bool) async throws -> Response {
        let v = service.version(call)
        let (providers, usage) = try await service.db.read { db in (try await service.placement.providers(in: db), try await service.placement.usage(in: db)) }
        var chosen = providers
        if v >= Microversion(2, 53), let pattern = call.query("hypervisor_hostname_pattern") { chosen = chosen.filter { $0.host.contains(pattern) } }
        // Paged from 2.33: the marker is the hypervisor's number, or its UUID (which 2.53 shows as its id).
        var limit: Int?
        if v >= Microversion(2, 33) {
            let after = try Pagination.after(call.query("marker"), in: chosen, matching: { String($0.hypervisorID) == $1 || $0.uuid == $1 },
                                             notFound: ComputeFault.markerNotFound)
            limit = try Pagination.limit(call.query("limit"), max: .max, invalid: ComputeFault.invalidLimit)
            chosen = Array(Pagination.page(after, limit: limit).items)
        }
        var list: [JSON] = []
        for p in chosen {
            var body = try await hypervisorJSON(p, usage[p.host] ?? (0, 0, 0, 0), call, detail: detail)
            if v >= Microversion(2, 53), ["1", "true", "True"].contains(call.query("with_servers") ?? "") {
                body = body.merging(["servers": try await serversOn(p.host)])
            }
            list.append(body)
        }
        var result: [String: JSON] = ["hypervisors": .array(list)]
        // Nova links the next page whenever this one is full.
        if let limit, limit > 0, chosen.count == limit, let last = chosen.last {
            result["hypervisors_links"] = service.links.next(path: detail ? "os-hypervisors/detail" : "os-hypervisors",
                                                             marker: v >= Microversion(2, 53) ? last.uuid : String(last.hypervisorID), query: call.queryItems)
        }
        return .json(.ok, .object(result))
    }

    private func hypervisor(_ call: APICall) async throws -> (Placement.Provider, (vcpus: Int, memoryMB: Int, diskGB: Int, consumers: Int)) {
        let id = try call.param("id")
        let (providers, usage) = try await service.db.read { db in (try await service.placement.providers(in: db), try await service.placement.usage(in: db)) }
        let v = service.version(call)
        guard let p = providers.first(where: { v >= Microversion(2, 53) ? $0.uuid == id : String($0.hypervisorID) == id }) else {
            if v >= Microversion(2, 53) && UUID(uuidString: id) == nil { throw APIError.badRequest("Invalid uuid \(id)") }
            throw APIError.notFound("Hypervisor with ID \(id) could not be found.")
        }
        return (p, usage[p.host] ?? (0, 0, 0, 0))
    }

    private func serversOn(_ host: String) async throws -> JSON {
        let servers = try await service.db.read { try await service.servers.list("host = \(bind: host)", limit: nil, in: $0) }
        return .array(servers.map { ["uuid": .string($0.id), "name": .string($0.name)] })
    }

    private func hypervisorJSON(_ p: Placement.Provider, _ u: (vcpus: Int, memoryMB: Int, diskGB: Int, consumers: Int),
                                _ call: APICall, detail: Bool) async throws -> JSON {
        let v = service.version(call)
        let id: JSON = v >= Microversion(2, 53) ? .string(p.uuid) : JSON(p.hypervisorID)
        var body: [String: JSON] = ["id": id, "hypervisor_hostname": .string(p.host), "state": p.forcedDown ? "down" : "up",
                                    "status": p.disabled ? "disabled" : "enabled"]
        guard detail else { return .object(body) }
        let resources = service.hypervisor.hosts.first { $0.name == p.host }
        body.merge([
            "host_ip": "127.0.0.1", "hypervisor_type": .string(resources?.hypervisorType ?? "fake"), "hypervisor_version": 1000,
            "service": ["host": .string(p.host), "id": v >= Microversion(2, 53) ? .string(p.uuid) : JSON(p.hypervisorID + 2),
                        "disabled_reason": JSON(p.disabledReason)],
        ]) { _, new in new }
        if v < Microversion(2, 88) {
            body.merge([
                "vcpus": JSON(p.vcpus), "vcpus_used": JSON(u.vcpus), "memory_mb": JSON(p.memoryMB), "memory_mb_used": JSON(u.memoryMB),
                "local_gb": JSON(p.diskGB), "local_gb_used": JSON(u.diskGB), "free_ram_mb": JSON(p.memoryMB - u.memoryMB),
                "free_disk_gb": JSON(p.diskGB - u.diskGB), "current_workload": 0, "running_vms": JSON(u.consumers),
                "disk_available_least": JSON(p.diskGB - u.diskGB),
                "cpu_info": cpuInfo(resources?.cpuArchitecture ?? "x86_64", sockets: p.vcpus, v),
            ]) { _, new in new }
        } else {
            body["uptime"] = nil as JSON
        }
        return .object(body)
    }

    /// A string before 2.28, an object since.
    private func cpuInfo(_ arch: String, sockets: Int, _ v: Microversion) -> JSON {
        let info: JSON = ["arch": .string(arch), "model": "fake", "vendor": "fake", "features": [],
                          "topology": ["cores": 1, "threads": 1, "sockets": JSON(sockets)]]
        return v >= Microversion(2, 28) ? info : .string(info.text)
    }

    // MARK: Services

    private func registerServices(_ r: PolicyRouter) {
        r.get("/v2.1/os-services", rule: "os_compute_api:os-services") { call in
            var list = try await services(call)
            if let host = call.query("host") { list = list.filter { $0["host"]?.stringValue == host } }
            if let binary = call.query("binary") { list = list.filter { $0["binary"]?.stringValue == binary } }
            return .json(.ok, ["services": .array(list)])
        }
        for action in ["enable", "disable", "disable-log-reason", "force-down"] {
            r.put("/v2.1/os-services/\(action)", rule: "os_compute_api:os-services") { call in
                guard service.version(call) < Microversion(2, 53) else { throw APIError.notFound("The resource could not be found.") }
                let f = try JSONFields(try await call.body(), path: "")
                let host = try f.requiredString("host", maxLength: 255)
                let binary = try f.requiredString("binary", maxLength: 255)
                guard binary == "nova-compute" else { throw APIError.badRequest("Only nova-compute services can be changed here.") }
                var reason: String?
                if action == "disable-log-reason" { reason = try f.requiredString("disabled_reason", maxLength: 255) }
                let forced = action == "force-down" ? try f.bool("forced_down") : nil
                try await setService(host: host, disabled: action == "force-down" ? nil : action != "enable", reason: reason, forcedDown: forced)
                var body: [String: JSON] = ["host": .string(host), "binary": .string(binary)]
                if action == "force-down" { body["forced_down"] = JSON(forced ?? false) } else { body["status"] = action == "enable" ? "enabled" : "disabled" }
                if let reason { body["disabled_reason"] = .string(reason) }
                return .json(.ok, ["service": .object(body)])
            }
        }
        r.put("/v2.1/os-services/:id", rule: "os_compute_api:os-services") { call in
            guard service.version(call) >= Microversion(2, 53) else { throw APIError.notFound("The resource could not be found.") }
            let id = try call.param("id")
            let providers = try await service.db.read { try await service.placement.providers(in: $0) }
            guard let p = providers.first(where: { $0.uuid == id }) else { throw APIError.notFound("Service \(id) could not be found.") }
            let f = try JSONFields(try await call.body(), path: "")
            let status = try f.string("status")
            guard status == nil || ["enabled", "disabled"].contains(status!) else { throw APIError.badRequest("Invalid input for field/attribute status.") }
            let reason = try f.string("disabled_reason", maxLength: 255)
            if reason != nil && status != "disabled" { throw APIError.badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.") }
            try await setService(host: p.host, disabled: status.map { $0 == "disabled" }, reason: reason, forcedDown: try f.bool("forced_down"))
            guard let body = try await services(call).first(where: { $0["id"]?.stringValue == id }) else { throw APIError.internalError() }
            return .json(.ok, ["service": body])
        }
        r.delete("/v2.1/os-services/:id", rule: "os_compute_api:os-services") { call in
            let id = try call.param("id")
            let v = service.version(call)
            try await service.db.transaction { db in
                let providers = try await service.placement.providers(in: db)
                guard let p = providers.first(where: { v >= Microversion(2, 53) ? $0.uuid == id : String($0.hypervisorID + 2) == id }) else {
                    throw APIError.notFound("Service \(id) could not be found.")
                }
                guard try await service.servers.list("host = \(bind: p.host)", limit: 1, in: db).isEmpty else {
                    throw APIError.conflict("Unable to delete compute service that is hosting instances. Migrate or delete the instances first.")
                }
                guard try await aggregates.all(in: db).allSatisfy({ !$0.hosts.contains(p.host) }) else {
                    throw APIError.conflict("Unable to delete compute service that is in an aggregate. Remove the host from the aggregate first.")
                }
                // The driver registers the host again when the service next starts.
                try await db.raw("DELETE FROM cmp_providers WHERE host = \(bind: p.host)").run()
            }
            return .empty(.noContent)
        }
    }

    private func setService(host: String, disabled: Bool?, reason: String?, forcedDown: Bool?) async throws {
        try await service.db.transaction { db in
            guard try await service.placement.providers(in: db).contains(where: { $0.host == host }) else {
                throw APIError.notFound("Host '\(host)' is not mapped to any cell")
            }
            if let disabled {
                try await db.raw("UPDATE cmp_providers SET disabled = \(bind: disabled ? 1 : 0), disabled_reason = \(bind: disabled ? reason : nil) WHERE host = \(bind: host)").run()
            }
            if let forcedDown {
                try await db.raw("UPDATE cmp_providers SET forced_down = \(bind: forcedDown ? 1 : 0) WHERE host = \(bind: host)").run()
            }
        }
    }

    private func services(_ call: APICall) async throws -> [JSON] {
        let v = service.version(call)
        let zones = try await hostZones()
        let providers = try await service.db.read { try await service.placement.providers(in: $0) }
        let now = JSON.string(NovaTime.precise(Date().timeIntervalSince1970))
        var list: [JSON] = []
        for (index, binary) in Self.controllerServices.enumerated() {
            var s: [String: JSON] = ["id": v >= Microversion(2, 53) ? .string(Self.controllerUUID(index)) : JSON(index + 1),
                                     "binary": .string(binary), "host": "martlet", "zone": "internal", "status": "enabled",
                                     "state": "up", "updated_at": now, "disabled_reason": nil]
            if v >= Microversion(2, 11) { s["forced_down"] = false }
            list.append(.object(s))
        }
        for p in providers {
            var s: [String: JSON] = ["id": v >= Microversion(2, 53) ? .string(p.uuid) : JSON(p.hypervisorID + 2),
                                     "binary": "nova-compute", "host": .string(p.host), "zone": .string(zones[p.host] ?? "nova"),
                                     "status": p.disabled ? "disabled" : "enabled", "state": p.forcedDown ? "down" : "up",
                                     "updated_at": now, "disabled_reason": JSON(p.disabledReason)]
            if v >= Microversion(2, 11) { s["forced_down"] = .bool(p.forcedDown) }
            list.append(.object(s))
        }
        return list
    }

    static func controllerUUID(_ index: Int) -> String { "00000000-0000-4000-8000-00000000000\(index + 1)" }

    // MARK: Aggregates

    private func registerAggregates(_ r: PolicyRouter) {
        r.get("/v2.1/os-aggregates", rule: "os_compute_api:os-aggregates") { call in
            let v = service.version(call)
            return .json(.ok, ["aggregates": .array(try await service.db.read { try await aggregates.all(in: $0) }.map { $0.json(v) })])
        }
        r.get("/v2.1/os-aggregates/:id", rule: "os_compute_api:os-aggregates") { call in
            .json(.ok, ["aggregate": try await aggregate(call).json(service.version(call))])
        }
        r.post("/v2.1/os-aggregates", rule: "os_compute_api:os-aggregates") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "aggregate")
            let name = try f.requiredString("name", minLength: 1, maxLength: 255)
            guard name.trimmingCharacters(in: .whitespaces) == name else {
                throw APIError.badRequest("Invalid input for field/attribute name. Value: \(name). Leading and trailing spaces are not allowed.")
            }
            let zone = try f.string("availability_zone", minLength: 1, maxLength: 255, nullable: true)
            let made = try await service.db.transaction { db -> Aggregate in
                if try await aggregates.all(in: db).contains(where: { $0.name == name }) {
                    throw APIError.conflict("Aggregate \(name) already exists.")
                }
                var metadata: [String: String] = [:]
                if let zone { metadata["availability_zone"] = zone }
                let a = Aggregate(id: try await aggregates.nextID(in: db), uuid: Identifier.uuid(), name: name, metadata: metadata,
                                  hosts: [], createdAt: Date().timeIntervalSince1970, updatedAt: nil)
                try await aggregates.save(a, new: true, in: db)
                return a
            }
            return .json(.ok, ["aggregate": made.json(service.version(call), full: service.version(call) >= Microversion(2, 41))])
        }
        r.put("/v2.1/os-aggregates/:id", rule: "os_compute_api:os-aggregates") { call in
            let f = try JSONFields.body(try await call.body(), wrapper: "aggregate")
            guard f.has("name") || f.has("availability_zone") else { throw APIError.badRequest("Invalid input for field/attribute aggregate: name or availability_zone is required.") }
            let name = try f.string("name", minLength: 1, maxLength: 255)
            let zone = try f.string("availability_zone", minLength: 1, maxLength: 255, nullable: true)
            let a = try await editAggregate(call) { db, a in
                if let name {
                    if try await aggregates.all(in: db).contains(where: { $0.name == name && $0.id != a.id }) {
                        throw APIError.conflict("Aggregate \(name) already exists.")
                    }
                    a.name = name
                }
                if f.has("availability_zone") { a.metadata["availability_zone"] = zone }
            }
            return .json(.ok, ["aggregate": a.json(service.version(call))])
        }
        r.delete("/v2.1/os-aggregates/:id", rule: "os_compute_api:os-aggregates") { call in
            let a = try await aggregate(call)
            guard a.hosts.isEmpty else { throw APIError.badRequest("Cannot remove aggregate \(a.id): it still has hosts.") }
            try await service.db.transaction { db in try await aggregates.delete(a.id, in: db) }
            return .empty(.ok)
        }
        r.post("/v2.1/os-aggregates/:id/images", rule: "os_compute_api:os-aggregates") { call in
            guard service.version(call) >= Microversion(2, 81) else { throw APIError.notFound("The resource could not be found.") }
            _ = try await aggregate(call)
            let wanted = try JSONFields(try await call.body(), path: "").objects("cache") ?? []
            guard !wanted.isEmpty else { throw APIError.badRequest("Invalid input for field/attribute cache: at least one image is required.") }
            for item in wanted {
                let id = try item.requiredString("id")
                guard try await service.images.bootImage(id: id, projectID: nil, isAdmin: true) != nil else {
                    throw APIError.badRequest("Image \(id) could not be found.")
                }
            }
            // Every host keeps images through the Image service's own store: nothing to pre-load.
            return .empty(.accepted)
        }
        r.post("/v2.1/os-aggregates/:id/action", rule: "os_compute_api:os-aggregates") { call in
            guard case .object(let members) = try await call.body(), members.count == 1, let (action, value) = members.first else {
                throw APIError.badRequest("An aggregate action names exactly one action.")
            }
            let f = try JSONFields(value, path: action)
            let a: Aggregate
            switch action {
            case "add_host", "remove_host":
                let host = try f.requiredString("host", maxLength: 255)
                a = try await editAggregate(call) { db, a in
                    guard try await service.placement.providers(in: db).contains(where: { $0.host == host }) else {
                        throw APIError.notFound("Compute host \(host) could not be found.")
                    }
                    if action == "add_host" {
                        guard !a.hosts.contains(host) else { throw APIError.conflict("Aggregate \(a.id) already has host \(host).") }
                        if let zone = a.zone, let other = try await aggregates.zones(in: db)[host], other != zone {
                            throw APIError.conflict("Cannot add host \(host) to aggregate \(a.id): it is in availability zone \(other).")
                        }
                        a.hosts.append(host)
                    } else {
                        guard a.hosts.contains(host) else { throw APIError.notFound("Cannot remove host \(host) in aggregate \(a.id): not found.") }
                        a.hosts.removeAll { $0 == host }
                    }
                }
            case "set_metadata":
                guard let metadata = try f.object("metadata") else { throw APIError.badRequest("Invalid input for field/attribute metadata: it is required.") }
                a = try await editAggregate(call) { _, a in
                    for (key, value) in metadata.members {
                        guard !key.isEmpty, key.count <= 255 else { throw APIError.badRequest("Invalid input for field/attribute metadata: keys are 1 to 255 characters.") }
                        switch value {
                        case .null: a.metadata.removeValue(forKey: key)
                        case .string(let s) where s.count <= 255: a.metadata[key] = s
                        case .int(let i): a.metadata[key] = String(i)
                        default: throw APIError.badRequest("Invalid input for field/attribute metadata: values are strings of at most 255 characters.")
                        }
                    }
                }
            default:
                throw APIError.badRequest("Invalid aggregate action \(action).")
            }
            return .json(.ok, ["aggregate": a.json(service.version(call))])
        }
    }

    private func aggregate(_ call: APICall) async throws -> Aggregate {
        let text = try call.param("id")
        guard let id = Int(text), let a = try await service.db.read({ try await aggregates.get(id, in: $0) }) else {
            throw APIError.notFound("Aggregate \(text) could not be found.")
        }
        return a
    }

    private func editAggregate(_ call: APICall, _ edit: @Sendable (any SQLDatabase, inout Aggregate) async throws -> Void) async throws -> Aggregate {
        let text = try call.param("id")
        return try await service.db.transaction { db in
            guard let id = Int(text), var a = try await aggregates.get(id, in: db) else { throw APIError.notFound("Aggregate \(text) could not be found.") }
            try await edit(db, &a)
            try await aggregates.save(a, new: false, in: db)
            return a
        }
    }

    // MARK: Usage

    /// The usage of each project's servers; from 2.40 a page of servers (`limit`, `marker`) with a
    /// next link while more remain, as novaclient walks it until a page comes back empty.
    private func usage(_ call: APICall, project: String?) async throws -> (usages: [JSON], links: JSON?) {
        let now = Date().timeIntervalSince1970
        let start = try call.query("start").map { guard let d = Timestamp.parse($0) else { throw APIError.badRequest("Invalid start time.") }; return d.timeIntervalSince1970 } ?? now - 86400
        let end = try call.query("end").map { guard let d = Timestamp.parse($0) else { throw APIError.badRequest("Invalid end time.") }; return d.timeIntervalSince1970 } ?? now
        guard start <= end else { throw APIError.badRequest("Invalid start time. The start time cannot occur after the end time.") }
        let detailed = project != nil || ["1", "true", "True"].contains(call.query("detailed") ?? "")
        let condition: SQLQueryString = project.map { "project_id = \(bind: $0)" } ?? "1 = 1"
        var servers = try await service.db.read { try await service.servers.list(condition, limit: nil, in: $0) }
        var links: JSON?
        if service.version(call) >= Microversion(2, 40) {
            let after = try Pagination.after(call.query("marker"), in: servers, id: \.id, notFound: ComputeFault.markerCouldNotBeFound)
            let page = Pagination.page(after, limit: try Pagination.limit(call.query("limit"), max: .max, invalid: ComputeFault.invalidLimit) ?? 1000)
            servers = Array(page.items)
            if page.hasMore, let last = page.items.last {
                links = service.links.next(path: "os-simple-tenant-usage" + (project.map { "/" + $0 } ?? ""), marker: last.id, query: call.queryItems)
            }
        }
        var byProject: [String: [Server]] = [:]
        for s in servers { byProject[s.projectID, default: []].append(s) }
        let usages: [JSON] = byProject.keys.sorted().map { projectID in
            var totals = (hours: 0.0, vcpu: 0.0, ram: 0.0, disk: 0.0)
            var usages: [JSON] = []
            for s in byProject[projectID] ?? [] {
                let from = max(start, s.launchedAt ?? s.createdAt), to = min(end, now)
                let hours = max(0, to - from) / 3600
                totals.hours += hours
                totals.vcpu += hours * Double(s.flavor.vcpus)
                totals.ram += hours * Double(s.flavor.ram)
                totals.disk += hours * Double(s.flavor.disk)
                usages.append(["instance_id": .string(s.id), "name": .string(s.name), "hours": .double(hours), "memory_mb": JSON(s.flavor.ram),
                               "local_gb": JSON(s.flavor.disk), "vcpus": JSON(s.flavor.vcpus), "tenant_id": .string(projectID),
                               "flavor": .string(s.flavor.name), "started_at": .string(NovaTime.precise(s.createdAt)), "ended_at": nil,
                               "state": .string(s.vmState == .stopped ? "stopped" : s.vmState.rawValue), "uptime": JSON(Int(now - s.createdAt))])
            }
            var body: [String: JSON] = [
                "tenant_id": .string(projectID), "total_hours": .double(totals.hours), "total_vcpus_usage": .double(totals.vcpu),
                "total_memory_mb_usage": .double(totals.ram), "total_local_gb_usage": .double(totals.disk),
                "start": .string(NovaTime.precise(start)), "stop": .string(NovaTime.precise(end)),
            ]
            if detailed { body["server_usages"] = .array(usages) }
            return .object(body)
        }
        return (usages, links)
    }
}
