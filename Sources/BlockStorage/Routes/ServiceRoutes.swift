import Foundation
import Hummingbird
import Logging
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
            return .json(.ok, ["services": .array(shown.map { view($0, version: call.requestedVersion) })])
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

    /// From 3.7 the service's cluster, none here (one host, no clustering); from 3.49 the volume
    /// service's backend state, `up` while this process serves it.
    private func view(_ s: ServiceState, version: Microversion) -> JSON {
        var b: [String: JSON] = [
            "binary": .string(s.binary), "host": .string(s.host), "zone": .string(BlockStorageService.zone),
            "status": s.disabled ? "disabled" : "enabled", "state": "up", "updated_at": Views.time(s.updatedAt),
            "disabled_reason": JSON(s.disabledReason),
        ]
        if version >= Microversion(3, 7) { b["cluster"] = .null }
        if s.binary == "cinder-volume" {
            if version >= Microversion(3, 49) { b["backend_state"] = "up" }
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
        case "set-log" where call.requestedVersion >= Microversion(3, 32), "get-log" where call.requestedVersion >= Microversion(3, 32):
            return try logLevels(action == "set-log", body)
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

    static let binaries = ["cinder-api", "cinder-scheduler", "cinder-volume", "cinder-backup"]

    /// 3.32: the log levels of the services' loggers, read or set by label prefix. Every binary is
    /// this one process, so a level set for one is set for all, on the loggers whose label starts
    /// with `prefix` (`martlet.block-storage`, say).
    private func logLevels(_ setting: Bool, _ body: [String: JSON]) throws -> Response {
        let known: Set<String> = setting ? ["binary", "server", "prefix", "level"] : ["binary", "server", "prefix"]
        try VolumeInput.refuseUnknown(body, known)
        let binary = try VolumeInput.text(body["binary"], field: "binary") ?? ""
        guard binary.isEmpty || binary == "*" || Self.binaries.contains(binary) else {
            throw BlockStorageFault.invalidInput("Invalid input for field/attribute binary. Value: \(binary). '\(binary)' is not one of \(Self.binaries + ["", "*"])")
        }
        let server = try VolumeInput.text(body["server"], field: "server")
        let prefix = try VolumeInput.text(body["prefix"], field: "prefix") ?? ""
        let hosts = (binary.isEmpty || binary == "*" ? Self.binaries : [binary])
            .map { ($0, $0 == "cinder-volume" ? service.volumeServiceHost : service.nodeName) }
            .filter { server == nil || $0.1 == server }
        if setting {
            let text = try VolumeInput.text(body["level"], field: "level") ?? ""
            guard let level = Self.levels[text.uppercased()] else { throw BlockStorageFault.invalidInput("\(text) is not a valid log level.") }
            if !hosts.isEmpty { LogLevels.shared.set(level, prefix: prefix) }
            return .empty(.accepted)
        }
        let labels = LogLevels.shared.labels.union([service.logger.label]).filter { $0.hasPrefix(prefix) }.sorted()
        let levels: [String: JSON] = Dictionary(uniqueKeysWithValues: labels.map { label in
            (label, JSON(Self.name(LogLevels.shared.level(for: label) ?? service.logger.logLevel)))
        })
        return .json(.ok, ["log_levels": .array(hosts.map { ["host": .string($0.1), "binary": .string($0.0), "levels": .object(levels)] })])
    }

    static let levels: [String: Logger.Level] = ["DEBUG": .debug, "INFO": .info, "WARNING": .warning, "ERROR": .error]

    /// Cinder's name for a level.
    static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "DEBUG"
        case .info, .notice: "INFO"
        case .warning: "WARNING"
        case .error, .critical: "ERROR"
        }
    }
}
