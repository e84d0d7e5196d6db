import Foundation
import MartletCore

/// What the service says about itself: availability zones, services, pools, capabilities, extensions.
struct InfoRoutes {
    let service: BlockStorageService

    /// The API extensions served, by the aliases clients and tempest look for.
    static let extensions: [(alias: String, name: String)] = [
        ("os-admin-actions", "AdminActions"), ("os-availability-zone", "AvailabilityZones"),
        ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes"), ("os-quota-sets", "Quotas"),
        ("os-types-extra-specs", "TypesExtraSpecs"), ("os-types-manage", "TypesManage"), ("os-used-limits", "UsedLimits"),
        ("os-vol-host-attr", "VolumeHostAttribute"), ("os-vol-mig-status-attr", "VolumeMigStatusAttribute"),
        ("os-vol-tenant-attr", "VolumeTenantAttribute"), ("os-volume-actions", "VolumeActions"),
        ("os-volume-type-access", "VolumeTypeAccess"), ("os-services", "Services"), ("scheduler-stats", "Scheduler_stats"),
        ("os-quota-class-sets", "QuotaClasses"),
    ]

    func register(_ r: PolicyRouter) {
        r.get("/v3/os-availability-zone", rule: "volume_extension:availability_zone_list") { _ in
            .json(.ok, ["availabilityZoneInfo": [["zoneName": .string(BlockStorageService.zone), "zoneState": ["available": true]]]])
        }
        r.get("/v3/extensions", rule: "volume_extension:extensions") { _ in
            .json(.ok, ["extensions": .array(Self.extensions.map { e in
                ["alias": .string(e.alias), "name": .string(e.name), "description": .string(e.name), "links": [],
                 "updated": "2026-12-01T00:00:00+00:00"]
            })])
        }
        r.get("/v3/os-hosts", rule: "volume_extension:hosts") { _ in
            let now = Views.time(Date().timeIntervalSince1970)
            let hosts: [JSON] = [("cinder-scheduler", service.nodeName), ("cinder-volume", service.volumeServiceHost)].map { binary, host in
                ["service-status": "available", "service": .string(binary), "zone": .string(BlockStorageService.zone),
                 "service-state": "enabled", "host_name": .string(host), "last-update": now]
            }
            return .json(.ok, ["hosts": .array(hosts)])
        }
        r.get("/v3/os-hosts/:host_name", rule: "volume_extension:hosts") { call in
            let name = try call.param("host_name")
            guard [service.nodeName, service.volumeServiceHost].contains(name) else { throw APIError.notFound("Host \(name) could not be found.") }
            let (volumes, snapshots) = try await service.store.db.read { db in
                (try await service.store.volumes(projectID: nil, in: db), try await service.store.snapshots(projectID: nil, in: db))
            }
            func resource(_ project: String, _ v: [Volume], _ s: [Snapshot]) -> JSON {
                ["resource": ["project": .string(project), "host": .string(name), "volume_count": .string(String(v.count)),
                              "total_volume_gb": .string(String(v.reduce(0) { $0 + $1.size })), "snapshot_count": .string(String(s.count)),
                              "total_snapshot_gb": .string(String(s.reduce(0) { $0 + $1.size }))]]
            }
            var rows = [resource("(total)", volumes, snapshots)]
            for project in Set(volumes.map(\.projectID)).sorted() {
                rows.append(resource(project, volumes.filter { $0.projectID == project }, snapshots.filter { $0.projectID == project }))
            }
            return .json(.ok, ["host": .array(rows)])
        }
        r.get("/v3/scheduler-stats/get_pools", rule: "scheduler_extension:scheduler_stats:get_pools") { call in
            try ResourceFilters.check(call, "pool")
            let capacity = try await service.driver.capacity()
            let c = service.capabilities.values
            let capabilities: [String: JSON] = [
                "total_capacity_gb": JSON(capacity.totalGB), "free_capacity_gb": JSON(capacity.freeGB),
                "volume_backend_name": JSON(c["volume_backend_name"]), "storage_protocol": JSON(c["storage_protocol"]),
                "driver_version": JSON(c["driver_version"]), "vendor_name": JSON(c["vendor_name"]), "reserved_percentage": 0,
                "thin_provisioning_support": true, "multiattach": .bool(c["multiattach"] == "True"), "pool_name": JSON(c["pool_name"])]
            guard try await poolPasses(call, capabilities) else { return .json(.ok, ["pools": []]) }
            var pool: [String: JSON] = ["name": .string(service.backendHost)]
            if ["1", "true", "True"].contains(call.query("detail") ?? "") { pool["capabilities"] = .object(capabilities) }
            return .json(.ok, ["pools": [.object(pool)]])
        }
        // 3.33: which filters each list takes.
        r.get("/v3/resource_filters", rule: "volume:resource_filters") { call in
            try call.require(3, 33)
            let wanted = call.query("resource")
            let shown = ResourceFilters.configured.filter { wanted == nil || $0.resource == wanted }
            return .json(.ok, ["resource_filters": .array(shown.map { ["resource": .string($0.resource), "filters": JSON($0.filters)] })])
        }
        r.get("/v3/capabilities/:hostname", rule: "volume_extension:capabilities") { _ in
            let c = service.capabilities.values
            return .json(.ok, ["namespace": .string("OS::Storage::Capabilities::\(service.backendName)"), "vendor_name": JSON(c["vendor_name"]),
                        "volume_backend_name": JSON(c["volume_backend_name"]), "pool_name": JSON(c["pool_name"]),
                        "driver_version": JSON(c["driver_version"]), "storage_protocol": JSON(c["storage_protocol"]), "display_name": .null, "description": .null,
                        "visibility": .null, "replication_targets": [], "properties": [:]])
        }

        // 3.7: clusters. Services here are never clustered (one host), so there are none.
        for path in ["/v3/clusters", "/v3/clusters/detail"] {
            r.get(path, rule: "clusters:get_all") { call in
                try call.require(3, 7)
                return .json(.ok, ["clusters": []])
            }
        }
        r.get("/v3/clusters/:name", rule: "clusters:get") { call in
            try call.require(3, 7)
            throw APIError.notFound("Cluster \(try call.param("name")) could not be found.")
        }
        // `PUT /clusters/enable` and `/disable` (one parameter name: the router shares the segment with GET).
        r.put("/v3/clusters/:name", rule: "clusters:update") { call in
            try call.require(3, 7)
            guard ["enable", "disable"].contains(try call.param("name")) else { throw APIError.notFound("The resource could not be found.") }
            let name = try VolumeInput.text(try await call.body()["name"], field: "name") ?? ""
            throw APIError.notFound("Cluster \(name) could not be found.")
        }
        // 3.8: snapshots the backend holds that Block Storage does not manage. Snapshots are not
        // unmanaged here, so every one the driver keeps is managed and the list is empty.
        for path in ["/v3/manageable_snapshots", "/v3/manageable_snapshots/detail"] {
            r.get(path, rule: "volume_extension:list_manageable") { call in
                try call.require(3, 8)
                return .json(.ok, ["manageable-snapshots": []])
            }
        }
    }

    /// The filters of `get_pools`: from 3.28 the pool's name and capabilities (each equal to the
    /// value asked for), from 3.35 a volume type whose extra specs the pool satisfies.
    private func poolPasses(_ call: APICall, _ capabilities: [String: JSON]) async throws -> Bool {
        guard call.requestedVersion >= Microversion(3, 28) else { return true }
        for (key, wanted) in call.queryItems where !["detail", "volume_type", "all_tenants"].contains(key) {
            if key == "name" {
                if wanted != service.backendHost { return false }
                continue
            }
            let equal: Bool
            switch capabilities[key] {
            case .bool(let b)?: equal = (try? VolumeInput.bool(.string(wanted), field: key)) == b
            case .string(let s)?: equal = s == wanted
            case .int(let i)?: equal = String(i) == wanted
            case .double(let d)?: equal = String(d) == wanted
            default: equal = false
            }
            if !equal { return false }
        }
        if call.requestedVersion >= Microversion(3, 35), let ref = call.query("volume_type") {
            guard let type = try await service.store.db.read({ try await service.store.type(idOrName: ref, in: $0) }) else {
                throw BlockStorageFault.typeNotFound(ref)
            }
            return service.capabilities.satisfies(type.extraSpecs)
        }
        return true
    }
}
