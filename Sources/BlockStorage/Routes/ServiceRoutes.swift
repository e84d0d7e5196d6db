import Foundation
import Hummingbird
import MartletCore

/// `/os-services`: the scheduler and volume services, which an admin may disable (new volumes then
/// find no backend), freeze and thaw.
struct ServiceRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    func register(_ r: PolicyRouter) {
        r.get("/v3/os-services", rule: "volume_extension:services:index") { call in
            let all = try await store.db.read { try await store.services(in: $0) }
            let shown = all.filter { s in
                // `host=node` matches `node` and the backends on it (`node@file`), as Cinder's filter does.
                (call.query("binary").map { s.binary == $0 } ?? true) && (call.query("host").map { s.host == $0 || s.host.hasPrefix($0 + "@") } ?? true)
            }
            return .json(.ok, ["services": .array(shown.map { view($0, clustered: call.requestedVersion >= Microversion(3, 7)) })])
        }
        r.put("/v3/os-services/:action", rule: "volume_extension:services:update") { try await act($0) }
        // 3.24: clean up after services that died mid-work. This process recovers its own interrupted
        // work when it starts, and there is no other volume service to clean up after.
        r.post("/v3/workers/cleanup", rule: "workers:cleanup") { call in
            try call.require(3, 24)
            let filters: Set<String> = ["cluster_name", "disabled", "host", "is_up", "binary", "resource_id", "resource_type", "service_id"]
            let raw = try await call.request.body.collect(upTo: 1 << 16)  // no body: no filters
            if raw.readableBytes > 0 {
                guard case .object(let body) = try JSON.parse(raw.readableBytesView) else { throw BlockStorageFault.invalidInput("The body must be an object.") }
                if let extra = body.keys.sorted().first(where: { !filters.contains($0) }) { throw BlockStorageFault.invalidInput("Invalid filter keys: \(extra)") }
            }
            return .json(.accepted, ["cleaning": [], "unavailable": []])
        }
    }

    /// `clustered` (3.7): the service's cluster, none here (one host, no clustering).
    private func view(_ s: ServiceState, clustered: Bool) -> JSON {
        var b: [String: JSON] = [
            "binary": .string(s.binary), "host": .string(s.host), "zone": .string(BlockStorageService.zone),
            "status": s.disabled ? "disabled" : "enabled", "state": "up", "updated_at": Views.time(s.updatedAt),
            "disabled_reason": JSON(s.disabledReason),
        ]
        if clustered { b["cluster"] = .null }
        if s.binary == "cinder-volume" {
            b["frozen"] = .bool(s.frozen)
            b["replication_status"] = "disabled"
            b["active_backend_id"] = .null
        }
        return .object(b)
    }

    private func act(_ call: APICall) async throws -> Response {
        let action = try call.param("action")
        guard case .object(let body) = try await call.body() else { throw BlockStorageFault.invalidInput("The body must be an object.") }
        let host = try VolumeInput.text(body["host"], field: "host")
        switch action {
        case "freeze", "thaw":
            // 3.26: or a cluster; there are none here.
            if host == nil, call.requestedVersion >= Microversion(3, 26), let cluster = try VolumeInput.text(body["cluster"], field: "cluster") {
                throw APIError.notFound("Cluster \(cluster) could not be found.")
            }
            guard let host else { throw BlockStorageFault.invalidInput("'host' is required.") }
            try await edit(binary: "cinder-volume", host: host, missing: BlockStorageFault.invalidInput("Host \(host) is not a volume service host.")) {
                $0.frozen = action == "freeze"
            }
            return .empty(.ok)
        case "enable", "disable", "disable-log-reason":
            guard let host else { throw BlockStorageFault.invalidInput("'host' is required.") }
            let binary = try VolumeInput.text(body["binary"] ?? body["service"], field: "binary") ?? "cinder-volume"
            var reason: String?
            if action == "disable-log-reason" {
                reason = try VolumeInput.text(body["disabled_reason"], field: "disabled_reason")
                guard let text = reason, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw BlockStorageFault.invalidInput("Disabled reason contains invalid characters or is too long")
                }
            }
            let disabled = action != "enable", why = reason
            let saved = try await edit(binary: binary, host: host, missing: APIError.notFound("Service \(binary) on host \(host) could not be found.")) { s in
                s.disabled = disabled
                s.disabledReason = disabled ? why : nil
            }
            return .json(.ok, ["disabled": .bool(saved.disabled), "status": saved.disabled ? "disabled" : "enabled", "host": .string(saved.host),
                               "service": .string(saved.binary), "binary": .string(saved.binary), "disabled_reason": JSON(saved.disabledReason)])
        case "failover_host", "failover":
            // `failover` is 3.26's (a host or a cluster). The backend has no replication target to fail over to.
            if action == "failover" { try call.require(3, 26) }
            guard host != nil || (action == "failover" && body["cluster"] != nil) else { throw BlockStorageFault.invalidInput("'host' is required.") }
            throw BlockStorageFault.invalidInput("Host replication_status must be enabled to failover.")
        default:
            throw APIError.notFound("Unknown action \(action).")
        }
    }

    @discardableResult
    private func edit(binary: String, host: String, missing: APIError, _ change: @escaping @Sendable (inout ServiceState) -> Void) async throws -> ServiceState {
        try await store.db.transaction { db in
            guard var s = try await store.services(in: db).first(where: { $0.binary == binary && $0.host == host }) else { throw missing }
            change(&s)
            s.updatedAt = BlockStorageStore.now()
            try await store.save(s, in: db)
            return s
        }
    }
}
