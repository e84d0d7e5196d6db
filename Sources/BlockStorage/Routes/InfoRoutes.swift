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
            let capacity = try await service.driver.capacity()
            var pool: [String: JSON] = ["name": .string(service.backendHost)]
            if ["1", "true", "True"].contains(call.query("detail") ?? "") {
                pool["capabilities"] = ["total_capacity_gb": JSON(capacity.totalGB), "free_capacity_gb": JSON(capacity.freeGB),
                                        "volume_backend_name": .string(service.backendName), "storage_protocol": "file",
                                        "driver_version": "1.0", "vendor_name": "Martlet", "reserved_percentage": 0,
                                        "thin_provisioning_support": true, "multiattach": true, "pool_name": .string(service.backendName)]
            }
            return .json(.ok, ["pools": [.object(pool)]])
        }
        r.get("/v3/capabilities/:hostname", rule: "volume_extension:capabilities") { _ in
            .json(.ok, ["namespace": .string("OS::Storage::Capabilities::\(service.backendName)"), "vendor_name": "Martlet",
                        "volume_backend_name": .string(service.backendName), "pool_name": .string(service.backendName),
                        "driver_version": "1.0", "storage_protocol": "file", "display_name": .null, "description": .null,
                        "visibility": .null, "replication_targets": [], "properties": [:]])
        }
    }
}
