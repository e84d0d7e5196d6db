import MartletCore
import ServiceContracts
import SQLKit

/// One server's ports to make or adopt, waiting to be committed with other servers'.
struct PortAllocation: Sendable {
    let requests: [PortRequest]
    let server: PortConsumer
}

extension NetworkService: PortAllocator {
    public func allocate(_ requests: [PortRequest], for server: PortConsumer) async throws -> [AllocatedPort] {
        let ids = try await allocations.submit(PortAllocation(requests: requests, server: server)) { [self] batch in
            await allocateAll(batch)
        }
        return try await read { db in try await ports(ids, db) }
    }

    /// Commits a batch of allocations in one transaction (each all or nothing), then tells the data plane.
    private func allocateAll(_ batch: [PortAllocation]) async -> [Result<[String], any Error>] {
        let results = await store.db.transaction(each: batch) { allocation, db in
            try await changing(db, Caller(isAdmin: false, projectID: allocation.server.projectID)) { change in
                try await makePorts(allocation, change)
            }
        }
        dataPlane.apply(results.flatMap { (try? $0.get().1) ?? [] })
        return results.map { $0.map(\.0) }
    }

    private func makePorts(_ allocation: PortAllocation, _ change: Change) async throws -> [String] {
        let server = allocation.server, member = change.caller
        var ids: [String] = []
        for request in allocation.requests {
            if let portID = request.portID {
                guard var port = try await change.get(.ports, portID), member.owns(port) else { throw NetFault.notFound(.ports, portID) }
                if !(port["device_id"]?.stringValue ?? "").isEmpty {
                    throw NetFault.conflict("Port \(portID) is still in use.", type: "PortInUse")
                }
                let before = port
                port["device_id"] = .string(server.deviceID)
                port["device_owner"] = .string("compute:\(server.availabilityZone)")
                Ports.bind(&port, host: server.host, profile: port["binding:profile"] ?? [:], backend: backend)
                port["status"] = Ports.status(port, was: before)
                try await change.update(.ports, port)
                change.note(.port(portID))
                ids.append(portID)
            } else if let networkID = request.networkID {
                var body: [String: JSON] = ["network_id": .string(networkID), "device_id": .string(server.deviceID),
                                            "device_owner": .string("compute:\(server.availabilityZone)")]
                if let ip = request.fixedIP { body["fixed_ips"] = [["ip_address": .string(ip)]] }
                if let groups = request.securityGroups {
                    body["security_groups"] = JSON(try await Self.groupIDs(groups, project: server.projectID, change))
                }
                let port = try await Ports().create(Body(body, resource: "port"), change, boundTo: server.host)
                ids.append(port["id"]?.stringValue ?? "")
            } else {
                throw NetFault.badRequest("A port request names a network or a port.")
            }
        }
        return ids
    }

    public func ports(of server: ServerRef) async throws -> [AllocatedPort] {
        try await read { db in
            let ids = try await store.raw(.ports, where: "device_id = \(bind: server.deviceID) AND project_id = \(bind: server.projectID)",
                                          order: "id", limit: nil, in: db).map(\.id)
            return try await ports(ids, db)
        }
    }

    public func rebind(_ server: ServerRef, host: String) async throws {
        try await change(caller: Caller(isAdmin: true, projectID: "")) { change in
            for var port in try await change.rows(.ports, "device_id = \(bind: server.deviceID) AND project_id = \(bind: server.projectID)") {
                let before = port
                Ports.bind(&port, host: host, profile: port["binding:profile"] ?? [:], backend: backend)
                port["status"] = Ports.status(port, was: before)
                try await change.update(.ports, port)
                change.note(.port(port["id"]?.stringValue ?? ""))
            }
        }
    }

    public func release(_ server: ServerRef, deleting: Set<String>) async throws {
        try await change(caller: Caller(isAdmin: true, projectID: "")) { change in
            for port in try await change.rows(.ports, "device_id = \(bind: server.deviceID) AND project_id = \(bind: server.projectID)") {
                try await free(port, delete: deleting.contains(port["id"]?.stringValue ?? ""), change)
            }
        }
    }

    public func detach(portID: String, from server: ServerRef, delete: Bool) async throws {
        try await change(caller: Caller(isAdmin: true, projectID: "")) { change in
            guard let port = try await change.get(.ports, portID), port["device_id"]?.stringValue == server.deviceID,
                  port["project_id"]?.stringValue == server.projectID else { return }
            try await free(port, delete: delete, change)
        }
    }

    /// Deletes a server's port, or detaches and unbinds it.
    private func free(_ port: Doc, delete: Bool, _ change: Change) async throws {
        if delete {
            try await Ports.remove(port, change)
            return
        }
        var port = port
        port["device_id"] = ""
        port["device_owner"] = ""
        Ports.bind(&port, host: "", profile: [:], backend: backend)
        port["status"] = Ports.status(port)
        try await change.update(.ports, port)
        change.note(.port(port["id"]?.stringValue ?? ""))
    }

    public func availableNetworks(projectID: String) async throws -> [String] {
        try await read { db in
            try await store.raw(.networks, where: "(project_id = \(bind: projectID) OR shared = 'true') AND (external IS NULL OR external <> 'true')",
                                order: "id", limit: nil, in: db).map(\.id)
        }
    }

    public func check(_ requests: [PortRequest], projectID: String) async throws {
        try await read { db in
            for request in requests {
                if let portID = request.portID {
                    guard let port = try await store.get(.ports, portID, in: db), port["project_id"]?.stringValue == projectID else {
                        throw PortRequestProblem.portNotFound(portID)
                    }
                    if !(port["device_id"]?.stringValue ?? "").isEmpty { throw PortRequestProblem.portInUse(portID) }
                } else if let networkID = request.networkID {
                    guard let network = try await store.get(.networks, networkID, in: db),
                          network["project_id"]?.stringValue == projectID || network["shared"] == true else {
                        throw PortRequestProblem.networkNotFound(networkID)
                    }
                }
            }
        }
    }

    public func checkSecurityGroups(_ names: [String], projectID: String) async throws {
        try await read { db in
            for name in names where name != "default" {
                let byID = Body.isUUID(name) ? try await store.get(.securityGroups, name, in: db) : nil
                if let group = byID, group["project_id"]?.stringValue == projectID || group["shared"] == true { continue }
                let named = try await store.raw(.securityGroups, where: "project_id = \(bind: projectID) AND name = \(bind: name)",
                                                order: "id", limit: 1, in: db)
                if named.isEmpty { throw PortRequestProblem.securityGroupNotFound(name) }
            }
        }
    }

    public func addresses(ofPorts portIDs: [String]) async throws -> PortAddresses {
        var found = PortAddresses()
        // In slices, so a page of a thousand servers stays within every engine's bound on binds.
        for slice in stride(from: 0, to: portIDs.count, by: 500).map({ Array(portIDs[$0..<min($0 + 500, portIDs.count)]) }) {
            let (ports, floating) = try await read { db in
                (try await store.rows(.ports, where: "id IN (\(binds: slice))", in: db),
                 try await store.rows(.floatingIPs, where: "port_id IN (\(binds: slice))", in: db))
            }
            for port in ports {
                guard let id = port["id"]?.stringValue else { continue }
                found.fixed[id] = (port["fixed_ips"]?.array ?? []).compactMap { $0["ip_address"]?.stringValue }
            }
            found.floating += floating.compactMap { doc in
                guard let port = doc["port_id"]?.stringValue, let address = doc["floating_ip_address"]?.stringValue else { return nil }
                return FloatingAddress(portID: port, fixedIP: doc["fixed_ip_address"]?.stringValue, floatingIP: address)
            }
        }
        return found
    }

    public func waitUntilWired(_ portIDs: [String], timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(20)
        while true {
            let waiting = try await read { db in
                try await store.rows(.ports, where: "id IN (\(binds: portIDs))", in: db).filter { port in
                    port["status"] != "ACTIVE" && port["admin_state_up"] != false
                }
            }
            if waiting.isEmpty { return true }
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(500))
        }
    }

    private func ports(_ ids: [String], _ db: any SQLDatabase) async throws -> [AllocatedPort] {
        var result: [AllocatedPort] = []
        for id in ids {
            guard let port = try await store.get(.ports, id, in: db) else { continue }
            let network = try await store.get(.networks, port["network_id"]?.stringValue ?? "", in: db)
            result.append(AllocatedPort(
                id: id, networkID: port["network_id"]?.stringValue ?? "", networkName: network?["name"]?.stringValue ?? "",
                macAddress: port["mac_address"]?.stringValue ?? "",
                fixedIPs: (port["fixed_ips"]?.array ?? []).map { ($0["subnet_id"]?.stringValue ?? "", $0["ip_address"]?.stringValue ?? "") },
                mtu: Int(network?["mtu"]?.intValue ?? 1500), vifType: port["binding:vif_type"]?.stringValue ?? "unbound"))
        }
        return result
    }

    /// Security groups named by id or by name within the project.
    private static func groupIDs(_ names: [String], project: String, _ change: Change) async throws -> [String] {
        var ids: [String] = []
        for name in names {
            if Body.isUUID(name), try await change.get(.securityGroups, name) != nil { ids.append(name); continue }
            if name == "default" { ids.append(try await SecurityGroups.ensureDefault(project: project, change)); continue }
            let matches = try await change.rows(.securityGroups, "project_id = \(bind: project) AND name = \(bind: name)")
            guard matches.count == 1, let id = matches[0]["id"]?.stringValue else {
                throw APIError(matches.isEmpty ? .notFound : .conflict,
                               matches.isEmpty ? "Security group \(name) not found." : "Multiple security groups are named \(name); use an id.",
                               type: matches.isEmpty ? "SecurityGroupNotFound" : "Conflict")
            }
            ids.append(id)
        }
        return ids
    }
}
