import DriverKit
import Foundation
import Hummingbird
import MartletCore
import ServiceContracts

/// What hangs off one server: metadata, tags, addresses, interfaces, instance actions,
/// diagnostics and migrations.
struct ServerDetailRoutes {
    let service: ComputeService

    func register(_ r: PolicyRouter) {
        registerMetadata(r)
        registerTags(r)
        registerInterfaces(r)
        r.get("/v2.1/servers/:server_id/os-server-password", rule: "os_compute_api:os-server-password", loadsTarget: true) { call in
            .json(.ok, ["password": .string(try await service.visibleServer(call).password ?? "")])
        }
        r.delete("/v2.1/servers/:server_id/os-server-password", rule: "os_compute_api:os-server-password", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try await service.db.transaction { db in
                guard var s = try await service.servers.get(server.id, in: db), s.password != nil else { return }
                s.password = nil
                try await service.servers.update(s, in: db)
            }
            return .empty(.noContent)
        }
        r.post("/v2.1/os-server-external-events", rule: "os_compute_api:os-server-external-events:create") { call in
            let events = try JSONFields(try await call.body(), path: "").objects("events") ?? []
            guard !events.isEmpty else { throw APIError.badRequest("Invalid input for field/attribute events: at least one event is required.") }
            var results: [JSON] = []
            for event in events {
                let name = try event.requiredString("name")
                let server = try event.requiredString("server_uuid")
                var result: [String: JSON] = ["name": .string(name), "server_uuid": .string(server)]
                for key in ["tag", "status"] { if let value = try event.string(key) { result[key] = .string(value) } }
                if result["status"] == nil { result["status"] = "completed" }
                let exists = try await service.servers.get(server).map { $0.host != nil } ?? false
                result["code"] = exists ? 200 : 404
                results.append(.object(result))
            }
            let found = results.contains { $0["code"] == 200 }
            return .json(found ? .ok : .notFound, ["events": .array(results)])
        }
        r.get("/v2.1/servers/:server_id/ips", rule: "os_compute_api:ips", loadsTarget: true) { call in
            let server = try await service.withLiveAddresses(try await service.visibleServer(call))
            return .json(.ok, ["addresses": .object(Self.plainAddresses(server))])
        }
        r.get("/v2.1/servers/:server_id/ips/:network", rule: "os_compute_api:ips", loadsTarget: true) { call in
            let server = try await service.withLiveAddresses(try await service.visibleServer(call))
            let network = try call.param("network")
            guard let list = Self.plainAddresses(server)[network] else { throw APIError.notFound("Instance is not a member of specified network") }
            return .json(.ok, .object([network: list]))
        }
        r.get("/v2.1/servers/:server_id/os-instance-actions", rule: "os_compute_api:os-instance-actions:list", loadsTarget: true) { call in
            let v = service.version(call)
            var list = try await actionsOf(call)
            if v >= Microversion(2, 58) {
                try service.checkQuery(call, allowed: ["limit", "marker", "changes-since", "changes-before"])
                list = try ChangesFilter.apply(list, call, version: v, updated: \.updatedAt)
                let after = try Pagination.after(call.query("marker"), in: list, id: \.requestID, notFound: ComputeFault.markerCouldNotBeFound)
                list = Array(Pagination.page(after, limit: try Pagination.limit(call.query("limit"), max: .max, invalid: ComputeFault.invalidLimit)).items)
            }
            return .json(.ok, ["instanceActions": .array(list.map { $0.json(v, events: false, admin: false) })])
        }
        r.get("/v2.1/servers/:server_id/os-instance-actions/:request_id", rule: "os_compute_api:os-instance-actions:list", loadsTarget: true) { call in
            let v = service.version(call)
            let requestID = try call.param("request_id")
            let list = try await actionsOf(call)
            guard let action = list.first(where: { $0.requestID == requestID }) else {
                throw APIError.notFound("Action \(requestID) could not be found.")
            }
            // Events for all since 2.51; their traceback and host only where Nova's events rule allows.
            let admin = call.allowed("os_compute_api:os-instance-actions:events")
            return .json(.ok, ["instanceAction": action.json(v, events: admin || v >= Microversion(2, 51), admin: admin)])
        }
        r.get("/v2.1/servers/:server_id/diagnostics", rule: "os_compute_api:os-server-diagnostics", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            guard let host = server.host, server.vmState != .building else {
                throw APIError.conflict("Cannot 'get_diagnostics' instance \(server.id) while it is in vm_state \(server.vmState.rawValue)")
            }
            let values = try await service.hypervisor.diagnostics(server.id, host: host)
            guard service.version(call) >= Microversion(2, 48) else {
                return .json(.ok, .object(values.mapValues { Int($0).map { JSON($0) } ?? .string($0) }))
            }
            // 2.48's common format, with the values Nova's own fake driver reports (its `driver` must be one Nova knows).
            let state: String = switch server.powerState {
            case .running: "running"
            case .paused: "paused"
            case .shutdown: "shutdown"
            case .crashed: "crashed"
            case .suspended: "suspended"
            case .noState: "pending"
            }
            let ports = try await service.ports.ports(of: server.portRef)
            return .json(.ok, [
                "state": .string(state), "driver": "libvirt", "hypervisor": "kvm", "hypervisor_os": "ubuntu", "uptime": 46664,
                "config_drive": .bool(server.configDrive), "num_cpus": JSON(server.flavor.vcpus), "num_disks": 1,
                "num_nics": JSON(ports.count),
                "memory_details": ["maximum": JSON(server.flavor.ram), "used": 0],
                "cpu_details": .array((0..<server.flavor.vcpus).map { ["id": JSON($0), "time": 17300000000, "utilisation": 15] }),
                "nic_details": .array(ports.map { ["mac_address": .string($0.macAddress), "rx_octets": 0, "rx_errors": 0, "rx_drop": 0,
                                                   "rx_packets": 0, "rx_rate": nil, "tx_octets": 0, "tx_errors": 0, "tx_drop": 0,
                                                   "tx_packets": 0, "tx_rate": nil] }),
                "disk_details": [["read_bytes": 262144, "read_requests": 112, "write_bytes": 5778432, "write_requests": 488, "errors_count": 0]],
            ])
        }
        r.get("/v2.1/servers/:server_id/topology", rule: "os_compute_api:servers:show", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            guard service.version(call) >= Microversion(2, 78) else { throw APIError.notFound("The resource could not be found.") }
            var node: [String: JSON] = ["memory_mb": JSON(server.flavor.ram), "siblings": .array((0..<server.flavor.vcpus).map { [JSON($0)] }),
                                        "vcpu_set": .array((0..<server.flavor.vcpus).map { JSON($0) })]
            if call.allowed("compute:server:topology:host:index") { node["host_node"] = 0; node["cpu_pinning"] = [:] }
            return .json(.ok, ["nodes": [.object(node)], "pagesize_kb": nil])
        }
        for action in ["action", ""] {
            let path = "/v2.1/servers/:server_id/migrations/:migration_id" + (action.isEmpty ? "" : "/action")
            r.on(action.isEmpty ? .delete : .post, path, rule: "os_compute_api:os-server-migrations", loadsTarget: true) { call in
                let server = try await service.visibleServer(call)
                let v = service.version(call)
                guard v >= Microversion(2, action.isEmpty ? 24 : 22) else { throw APIError.notFound("The resource could not be found.") }
                let id = try call.param("migration_id")
                let running = try await service.db.read {
                    try await Migrations().list("server_id = \(bind: server.id) AND (uuid = \(bind: id) OR CAST(id AS TEXT) = \(bind: id))", in: $0)
                }.first
                guard let running else { throw APIError.notFound("Instance \(server.id) is not migrating by migration \(id).") }
                throw APIError.badRequest("Migration \(running.id) is \(running.status), not running: live migrations here finish at once.")
            }
        }
        r.get("/v2.1/servers/:server_id/migrations", rule: "os_compute_api:os-server-migrations", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let v = service.version(call)
            guard v >= Microversion(2, 23) else { throw APIError.notFound("The resource could not be found.") }
            let list = try await service.db.read {
                try await Migrations().list("server_id = \(bind: server.id) AND kind = 'live-migration' AND status IN ('running', 'preparing', 'queued')", in: $0)
            }
            return .json(.ok, ["migrations": .array(list.map { $0.json(v) })])
        }
    }

    /// The server's actions; since 2.21 also those of a deleted server its project owned.
    private func actionsOf(_ call: APICall) async throws -> [InstanceActions.Action] {
        do {
            let server = try await service.visibleServer(call)
            return try await service.db.read { try await service.actions.list(server: server.id, in: $0) }
        } catch let error as APIError where error.status == .notFound && service.version(call) >= Microversion(2, 21) {
            let id = try call.param("server_id")
            let list = try await service.db.read { try await service.actions.list(server: id, in: $0) }
            guard let first = list.first, call.isComputeAdmin || first.projectID == call.auth.projectID else { throw error }
            try call.authorize(["project_id": first.projectID])
            return list
        }
    }

    static func plainAddresses(_ s: Server) -> [String: JSON] {
        var result: [String: [JSON]] = [:]
        for a in s.addresses { result[a.network, default: []].append(["addr": .string(a.address), "version": JSON(a.version)]) }
        return result.mapValues { .array($0) }
    }

    /// Changes a server in one transaction after the lock check.
    private func edit(_ call: APICall, _ apply: @Sendable (inout Server) throws -> Void) async throws -> Server {
        let server = try await service.visibleServer(call)
        try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
        return try await service.db.transaction { db in
            guard var s = try await service.servers.get(server.id, in: db) else { throw ComputeFault.serverNotFound(server.id) }
            try apply(&s)
            let limits = try await service.quotas.limits(s.projectID, in: db)
            if let limit = limits["metadata_items"], limit >= 0, s.metadata.count > limit {
                throw APIError.forbidden("Quota exceeded for metadata_items: Requested \(s.metadata.count), but already used 0 of \(limit) metadata_items")
            }
            try await service.servers.update(s, in: db)
            return s
        }
    }

    // MARK: Metadata

    private func registerMetadata(_ r: PolicyRouter) {
        @Sendable func json(_ m: [String: String]) -> JSON { .object(m.mapValues { .string($0) }) }
        r.get("/v2.1/servers/:server_id/metadata", rule: "os_compute_api:server-metadata:index", loadsTarget: true) { call in
            .json(.ok, ["metadata": json(try await service.visibleServer(call).metadata)])
        }
        for (method, replace) in [(HTTPRequest.Method.post, false), (.put, true)] {
            r.on(method, "/v2.1/servers/:server_id/metadata", rule: "os_compute_api:server-metadata:update", loadsTarget: true) { call in
                let f = try JSONFields.body(try await call.body(), wrapper: "metadata")
                let items = try ServerInput.validMetadata(f.members)
                let s = try await edit(call) { s in
                    if replace { s.metadata = items } else { s.metadata.merge(items) { _, new in new } }
                }
                return .json(.ok, ["metadata": json(s.metadata)])
            }
        }
        r.get("/v2.1/servers/:server_id/metadata/:key", rule: "os_compute_api:server-metadata:index", loadsTarget: true) { call in
            let key = try call.param("key")
            guard let value = try await service.visibleServer(call).metadata[key] else { throw APIError.notFound("Metadata item was not found") }
            return .json(.ok, ["meta": .object([key: .string(value)])])
        }
        r.put("/v2.1/servers/:server_id/metadata/:key", rule: "os_compute_api:server-metadata:update", loadsTarget: true) { call in
            let key = try call.param("key")
            let f = try JSONFields.body(try await call.body(), wrapper: "meta")
            guard f.members.count == 1 else { throw APIError.badRequest("Request body contains too many items") }
            guard f.members[key] != nil else { throw APIError.badRequest("Request body and URI mismatch") }
            let items = try ServerInput.validMetadata(f.members)
            _ = try await edit(call) { s in s.metadata.merge(items) { _, new in new } }
            return .json(.ok, ["meta": json(items)])
        }
        r.delete("/v2.1/servers/:server_id/metadata/:key", rule: "os_compute_api:server-metadata:update", loadsTarget: true) { call in
            let key = try call.param("key")
            _ = try await edit(call) { s in
                guard s.metadata.removeValue(forKey: key) != nil else { throw APIError.notFound("Metadata item was not found") }
            }
            return .empty(.noContent)
        }
    }

    // MARK: Tags (2.26)

    private func registerTags(_ r: PolicyRouter) {
        @Sendable func requireVersion(_ call: APICall) throws {
            guard service.version(call) >= Microversion(2, 26) else { throw APIError.notFound("The resource could not be found.") }
        }
        r.get("/v2.1/servers/:server_id/tags", rule: "os_compute_api:os-server-tags:index", loadsTarget: true) { call in
            try requireVersion(call)
            return .json(.ok, ["tags": JSON(try await service.visibleServer(call).tags)])
        }
        r.put("/v2.1/servers/:server_id/tags", rule: "os_compute_api:os-server-tags:update", loadsTarget: true) { call in
            try requireVersion(call)
            let tags = try ServerInput.tags(try JSONFields(try await call.body(), path: "").strings("tags") ?? {
                throw APIError.badRequest("Invalid input for field/attribute tags: 'tags' is a required property")
            }())
            let s = try await edit(call) { s in s.tags = tags }
            return .json(.ok, ["tags": JSON(s.tags)])
        }
        r.delete("/v2.1/servers/:server_id/tags", rule: "os_compute_api:os-server-tags:update", loadsTarget: true) { call in
            try requireVersion(call)
            _ = try await edit(call) { s in s.tags = [] }
            return .empty(.noContent)
        }
        r.get("/v2.1/servers/:server_id/tags/:tag", rule: "os_compute_api:os-server-tags:index", loadsTarget: true) { call in
            try requireVersion(call)
            let tag = try call.param("tag")
            guard try await service.visibleServer(call).tags.contains(tag) else { throw APIError.notFound("Tag \(tag) could not be found.") }
            return .empty(.noContent)
        }
        r.put("/v2.1/servers/:server_id/tags/:tag", rule: "os_compute_api:os-server-tags:update", loadsTarget: true) { call in
            try requireVersion(call)
            let tag = try call.param("tag")
            _ = try ServerInput.tags([tag])
            let before = try await service.visibleServer(call)
            if before.tags.contains(tag) { return .empty(.noContent) }
            let s = try await edit(call) { s in
                guard s.tags.count < 50 else { throw APIError.badRequest("The number of tags exceeded the per-server limit 50") }
                if !s.tags.contains(tag) { s.tags.append(tag) }
            }
            return .empty(.created, headers: [.location: "\(service.links.base)/v2.1/servers/\(s.id)/tags/\(tag)"])
        }
        r.delete("/v2.1/servers/:server_id/tags/:tag", rule: "os_compute_api:os-server-tags:update", loadsTarget: true) { call in
            try requireVersion(call)
            let tag = try call.param("tag")
            _ = try await edit(call) { s in
                guard s.tags.contains(tag) else { throw APIError.notFound("Tag \(tag) could not be found.") }
                s.tags.removeAll { $0 == tag }
            }
            return .empty(.noContent)
        }
    }

    // MARK: Interfaces

    private func registerInterfaces(_ r: PolicyRouter) {
        r.get("/v2.1/servers/:server_id/os-interface", rule: "os_compute_api:os-attach-interfaces:list", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let ports = try await service.ports.ports(of: server.portRef)
            return .json(.ok, ["interfaceAttachments": .array(ports.map { interface($0, call, tag: server.interfaceTags?[$0.id]) })])
        }
        r.get("/v2.1/servers/:server_id/os-interface/:port_id", rule: "os_compute_api:os-attach-interfaces:list", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            let portID = try call.param("port_id")
            guard let port = try await service.ports.ports(of: server.portRef).first(where: { $0.id == portID }) else {
                throw APIError.notFound("Port \(portID) is not attached")
            }
            return .json(.ok, ["interfaceAttachment": interface(port, call, tag: server.interfaceTags?[port.id])])
        }
        r.post("/v2.1/servers/:server_id/os-interface", rule: "os_compute_api:os-attach-interfaces:manage", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
            try ServerLifecycle.check(.attachInterface, server)
            guard let host = server.host else { throw ComputeFault.invalidState(server, action: ServerAction.attachInterface.name) }
            let f = try JSONFields.body(try await call.body(), wrapper: "interfaceAttachment")
            let portID = try f.string("port_id"), netID = try f.string("net_id")
            if portID != nil && netID != nil { throw APIError.badRequest("Must not input both network_id and port_id") }
            let fixedIP = try f.objects("fixed_ips")?.first?.string("ip_address")
            let tag = service.version(call) >= Microversion(2, 49) ? try f.string("tag", maxLength: 60) : nil
            var request = PortRequest(networkID: netID, portID: portID, fixedIP: fixedIP)
            if portID == nil && netID == nil {
                let available = try await service.ports.availableNetworks(projectID: server.projectID)
                guard available.count == 1 else { throw APIError.badRequest("Unable to determine a network to attach: name net_id or port_id.") }
                request.networkID = available[0]
            }
            do { try await service.ports.check([request], projectID: server.projectID) } catch let problem as PortRequestProblem {
                throw ServerRoutes.fault(problem, missing: .notFound)
            }
            let before = Set(try await service.ports.ports(of: server.portRef).map(\.id))
            request.securityGroups = portID == nil ? server.securityGroups : nil
            let all = try await service.ports.allocate([request], for: PortConsumer(
                deviceID: server.id, projectID: server.projectID, host: host, availabilityZone: server.availabilityZone ?? "nova"))
            guard let added = all.first(where: { !before.contains($0.id) }) ?? all.last else { throw APIError.internalError() }
            try await service.hypervisor.plug(server.id, host: host, port: InstancePort(id: added.id, mac: added.macAddress, mtu: added.mtu))
            let current = try await service.ports.ports(of: server.portRef)
            _ = try await Workflows(service: service).settle(server.id) { s in
                s.addresses = Workflows.addresses(current)
                if portID == nil { s.ownedPorts.append(added.id) }
                if let tag { s.interfaceTags = (s.interfaceTags ?? [:]).merging([added.id: tag]) { _, new in new } }
            }
            return .json(.ok, ["interfaceAttachment": interface(added, call, tag: tag)])
        }
        r.delete("/v2.1/servers/:server_id/os-interface/:port_id", rule: "os_compute_api:os-attach-interfaces:manage", loadsTarget: true) { call in
            let server = try await service.visibleServer(call)
            try ServerAdmission.checkLock(server, overriddenBy: call.isComputeAdmin)
            let portID = try call.param("port_id")
            guard try await service.ports.ports(of: server.portRef).contains(where: { $0.id == portID }) else {
                throw APIError.notFound("Port \(portID) is not attached")
            }
            if let host = server.host { try await service.hypervisor.unplug(server.id, host: host, portID: portID) }
            try await service.ports.detach(portID: portID, from: server.portRef, delete: server.ownedPorts.contains(portID))
            let current = try await service.ports.ports(of: server.portRef)
            _ = try await Workflows(service: service).settle(server.id) { s in
                s.addresses = Workflows.addresses(current)
                s.ownedPorts.removeAll { $0 == portID }
            }
            return .empty(.accepted)
        }
    }

    private func interface(_ port: AllocatedPort, _ call: APICall, tag: String?) -> JSON {
        var body: [String: JSON] = [
            "port_state": "ACTIVE", "port_id": .string(port.id), "net_id": .string(port.networkID), "mac_addr": .string(port.macAddress),
            "fixed_ips": .array(port.fixedIPs.map { ["subnet_id": .string($0.subnetID), "ip_address": .string($0.address)] }),
        ]
        if service.version(call) >= Microversion(2, 70) { body["tag"] = JSON(tag) }
        return .object(body)
    }
}
