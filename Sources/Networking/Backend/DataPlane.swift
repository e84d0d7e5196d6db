import DriverKit
import Foundation
import Logging
import MartletCore
import MartletStore
import SQLKit

/// Makes the data plane follow the database, as Neutron's agents do: a write commits and returns,
/// and the objects it touched are queued. Each is read fresh from the database when its turn
/// comes, so the order and repetition of events do not matter; a failed apply is retried with
/// backoff, and every object is looked at again now and then. A bound port is `DOWN` until its
/// apply succeeds, then `ACTIVE`.
final class DataPlane: Sendable {
    let queue: ReconcileQueue<DataPlaneEvent.Key, ContinuousClock>
    let applier: DataPlaneApplier

    init(store: NetworkStore, backend: any NetworkBackend, logger: Logger, resyncInterval: Duration = .seconds(300)) {
        let applier = DataPlaneApplier(store: store, backend: backend, logger: logger)
        self.applier = applier
        // One at a time, in order: a network is wired before the ports that arrive after it.
        queue = ReconcileQueue(name: "data plane", concurrency: 1, backoff: .init(initial: .milliseconds(200), maximum: .seconds(30)),
                               resyncInterval: resyncInterval, resync: { try await applier.resync() },
                               leadership: DatabaseLeadership(database: store.db), logger: logger) { key in try await applier.apply(key) }
    }

    func apply(_ events: [DataPlaneEvent]) { queue.enqueue(events.map(\.key)) }
}

/// Reads an object's desired state and hands it to the backend.
struct DataPlaneApplier: Sendable {
    let store: NetworkStore
    let backend: any NetworkBackend
    let logger: Logger

    /// What the backend cannot build at all is left as it is (a port stays `DOWN`), not retried.
    func apply(_ key: DataPlaneEvent.Key) async throws {
        do {
            try await wire(key)
        } catch DriverError.unsupported(let why) {
            logger.debug("not wired", metadata: ["object": "\(key)", "why": "\(why)"])
        }
    }

    private func wire(_ key: DataPlaneEvent.Key) async throws {
        switch key {
        case .network(let id):
            guard let plan = try await store.db.read({ db in try await networkPlan(id, db) }) else { return try await backend.removeNetwork(id: id) }
            try await backend.apply(network: plan)
            // Routers with a leg on it take their prefixes and default route from its subnets: one
            // applied before this network's latest plan (its event queued behind theirs) would keep
            // a leg without its address. A router that fails here is retried by its own events.
            let routers = try await store.db.read { db in
                try await store.rows(.ports, where: "network_id = \(bind: id) AND device_owner IN ('network:router_gateway', 'network:router_interface')", in: db)
            }
            for router in Set(routers.compactMap { $0["device_id"]?.stringValue }).sorted() {
                do { try await wire(.router(router)) } catch { logger.debug("router not wired", metadata: ["router": "\(router)", "error": "\(error)"]) }
            }
        case .port(let id):
            guard let port = try await store.db.read({ db in try await store.get(.ports, id, in: db) }) else { return try await backend.removePort(id: id) }
            let host = port["binding:host_id"]?.stringValue ?? ""
            guard !host.isEmpty else { return try await backend.removePort(id: id) }
            try await backend.apply(port: Self.portPlan(port, host: host))
            try await reportActive(id, host: host)
        case .router(let id):
            guard let plan = try await store.db.read({ db in try await routerPlan(id, db) }) else {
                try await backend.removeRouter(id: id)
                return try await reportFloatingIPs(router: id, working: [])
            }
            try await backend.apply(router: plan)
            try await reportFloatingIPs(router: id, working: plan.adminStateUp && plan.gateway != nil ? Set(plan.floatingIPs.map { "\($0.floatingIP) \($0.fixedIP)" }) : [])
        case .securityGroup(let id):
            guard let plan = try await store.db.read({ db in try await securityGroupPlan(id, db) }) else { return try await backend.removeSecurityGroup(id: id) }
            try await backend.apply(securityGroup: plan)
        }
    }

    /// The port is wired on `host`: `ACTIVE`, unless it moved, went down or was deleted meanwhile.
    private func reportActive(_ id: String, host: String) async throws {
        try await store.db.transaction { db in
            guard var port = try await store.get(.ports, id, forUpdate: true, in: db), port["status"] == "DOWN",
                  port["binding:host_id"]?.stringValue == host, port["admin_state_up"] != false else { return }
            port["status"] = "ACTIVE"
            try await store.update(.ports, port, now: Timestamp.iso(Date()), in: db)
        }
    }

    /// The router's NAT is applied: its floating IPs are `ACTIVE` where it forwards them to the
    /// fixed IPs they still point at (`working`: "floating fixed" pairs), `DOWN` otherwise.
    private func reportFloatingIPs(router: String, working: Set<String>) async throws {
        try await store.db.transaction { db in
            for var fip in try await store.rows(.floatingIPs, where: "router_id = \(bind: router)", forUpdate: true, in: db) {
                let nat = "\(fip["floating_ip_address"]?.stringValue ?? "") \(fip["fixed_ip_address"]?.stringValue ?? "")"
                let status: JSON = working.contains(nat) ? "ACTIVE" : "DOWN"
                guard fip["status"] != status else { continue }
                fip["status"] = status
                try await store.update(.floatingIPs, fip, now: Timestamp.iso(Date()), in: db)
            }
        }
    }

    /// Every object the database has, and what the backend has built of objects the database no
    /// longer has (a delete whose event a crash lost): queued like the rest, each is read again
    /// when its turn comes and removed then, one at a time. The backend is asked first, so an
    /// object made meanwhile is not in its answer.
    func resync() async throws -> [DataPlaneEvent.Key] {
        let built: DataPlaneInventory
        do {
            built = try await backend.inventory()
        } catch {
            logger.error("the data plane could not say what it has built", metadata: ["error": "\(error)"])
            return try await everything()
        }
        let keys = try await everything()
        let known = Set(keys)
        let stale = built.ports.sorted().map(DataPlaneEvent.Key.port).filter { !known.contains($0) }
            + built.networks.sorted().map(DataPlaneEvent.Key.network).filter { !known.contains($0) }
            + built.routers.sorted().map(DataPlaneEvent.Key.router).filter { !known.contains($0) }
        if !stale.isEmpty { logger.notice("removing what the database no longer has", metadata: ["objects": "\(stale.count)"]) }
        return keys + stale
    }

    /// Every network, security group, bound port and router, for a resync.
    func everything() async throws -> [DataPlaneEvent.Key] {
        try await store.db.read { db in
            var keys: [DataPlaneEvent.Key] = []
            for row in try await store.raw(.networks, where: "1 = 1", order: "id", limit: nil, in: db) { keys.append(.network(row.id)) }
            for row in try await store.raw(.securityGroups, where: "1 = 1", order: "id", limit: nil, in: db) { keys.append(.securityGroup(row.id)) }
            for row in try await store.raw(.ports, where: "host_id <> ''", order: "id", limit: nil, in: db) { keys.append(.port(row.id)) }
            for row in try await store.raw(.routers, where: "1 = 1", order: "id", limit: nil, in: db) { keys.append(.router(row.id)) }
            return keys
        }
    }

    private func networkPlan(_ id: String, _ db: any SQLDatabase) async throws -> NetworkPlan? {
        guard let network = try await store.get(.networks, id, in: db) else { return nil }
        let subnets = try await store.rows(.subnets, where: "network_id = \(bind: id)", in: db)
        var routed: Set<String> = []
        for s in subnets {
            let subnet = s["id"]?.stringValue ?? ""
            let interfaces = try await store.count(.ports, where: """
                device_owner = 'network:router_interface' AND id IN (SELECT port_id FROM net_ip_allocations WHERE subnet_id = \(bind: subnet))
                """, in: db)
            if interfaces > 0 { routed.insert(subnet) }
        }
        return NetworkPlan(
            id: id, networkType: network["provider:network_type"]?.stringValue ?? "local",
            physicalNetwork: network["provider:physical_network"]?.stringValue,
            segmentationID: network["provider:segmentation_id"]?.intValue.map(Int.init),
            mtu: Int(network["mtu"]?.intValue ?? 1500), adminStateUp: network["admin_state_up"] != false,
            subnets: subnets.map { s in
                SubnetPlan(id: s["id"]?.stringValue ?? "", cidr: s["cidr"]?.stringValue ?? "", gatewayIP: s["gateway_ip"]?.stringValue,
                           allocationPools: Subnets.pools(s).map { Pool(start: $0.start.description, end: $0.end.description) },
                           enableDHCP: s["enable_dhcp"] == true,
                           dnsNameservers: (s["dns_nameservers"]?.array ?? []).compactMap(\.stringValue),
                           hostRoutes: Self.routes(s["host_routes"]), ipv6RAMode: s["ipv6_ra_mode"]?.stringValue,
                           ipv6AddressMode: s["ipv6_address_mode"]?.stringValue, routed: routed.contains(s["id"]?.stringValue ?? ""))
            })
    }

    static func portPlan(_ port: Doc, host: String) -> PortPlan {
        PortPlan(
            id: port["id"]?.stringValue ?? "", networkID: port["network_id"]?.stringValue ?? "", host: host,
            macAddress: port["mac_address"]?.stringValue ?? "",
            fixedIPs: (port["fixed_ips"]?.array ?? []).compactMap { $0["ip_address"]?.stringValue },
            adminStateUp: port["admin_state_up"] != false, deviceOwner: port["device_owner"]?.stringValue ?? "",
            portSecurityEnabled: port["port_security_enabled"] != false,
            securityGroupIDs: (port["security_groups"]?.array ?? []).compactMap(\.stringValue),
            allowedAddressPairs: (port["allowed_address_pairs"]?.array ?? []).map {
                AddressPair(ipAddress: $0["ip_address"]?.stringValue ?? "", macAddress: $0["mac_address"]?.stringValue ?? "")
            },
            deviceID: port["device_id"]?.stringValue ?? "",
            dhcpOptions: (port["extra_dhcp_opts"]?.array ?? []).compactMap { option in
                guard let name = option["opt_name"]?.stringValue, let value = option["opt_value"]?.stringValue else { return nil }
                return DHCPOption(name: name, value: value, ipVersion: Int(option["ip_version"]?.intValue ?? 4))
            })
    }

    static func routes(_ value: JSON?) -> [Route] {
        (value?.array ?? []).map { Route(destination: $0["destination"]?.stringValue ?? "", nexthop: $0["nexthop"]?.stringValue ?? "") }
    }

    /// Nil for a router that is gone or that no L3 agent hosts (Neutron's agents build only theirs).
    private func routerPlan(_ id: String, _ db: any SQLDatabase) async throws -> RouterPlan? {
        guard let router = try await store.get(.routers, id, in: db),
              try await !store.agentIDs(hosting: id, .routers, in: db).isEmpty else { return nil }
        let ports = try await store.rows(.ports, where: "device_id = \(bind: id)", in: db)
        var gateway: RouterPlan.Gateway?
        var interfaces: [RouterPlan.Interface] = []
        for port in ports {
            let addresses = (port["fixed_ips"]?.array ?? []).compactMap { $0["ip_address"]?.stringValue }
            switch port["device_owner"]?.stringValue {
            case "network:router_gateway":
                gateway = .init(networkID: port["network_id"]?.stringValue ?? "", portID: port["id"]?.stringValue ?? "",
                                macAddress: port["mac_address"]?.stringValue ?? "", addresses: addresses,
                                enableSNAT: router["external_gateway_info"]?["enable_snat"] != false)
            case "network:router_interface":
                var withPrefix: [String] = []
                var advertisements: [RouterPlan.Advertisement] = []
                for ip in port["fixed_ips"]?.array ?? [] {
                    let subnet = try await store.get(.subnets, ip["subnet_id"]?.stringValue ?? "", in: db)
                    let cidr = subnet?["cidr"]?.stringValue ?? ""
                    withPrefix.append("\(ip["ip_address"]?.stringValue ?? "")/\(CIDR(cidr)?.prefix ?? 32)")
                    if let mode = subnet?["ipv6_ra_mode"]?.stringValue {
                        advertisements.append(.init(prefix: cidr, mode: mode,
                                                    dnsServers: (subnet?["dns_nameservers"]?.array ?? []).compactMap(\.stringValue).filter { $0.contains(":") }))
                    }
                }
                interfaces.append(.init(portID: port["id"]?.stringValue ?? "", networkID: port["network_id"]?.stringValue ?? "",
                                        macAddress: port["mac_address"]?.stringValue ?? "", addresses: withPrefix, advertisements: advertisements))
            default: break
            }
        }
        let fips = try await store.rows(.floatingIPs, where: "router_id = \(bind: id)", in: db)
        var forwards: [RouterPlan.PortForward] = []
        for fip in fips {
            for pf in try await store.rows(.portForwardings, where: "floatingip_id = \(bind: fip["id"]?.stringValue ?? "")", in: db) {
                forwards.append(.init(floatingIP: fip["floating_ip_address"]?.stringValue ?? "", proto: pf["protocol"]?.stringValue ?? "tcp",
                                      externalPort: Int(pf["external_port"]?.intValue ?? 0), internalIP: pf["internal_ip_address"]?.stringValue ?? "",
                                      internalPort: Int(pf["internal_port"]?.intValue ?? 0)))
            }
        }
        return RouterPlan(
            id: id, adminStateUp: router["admin_state_up"] != false, gateway: gateway, interfaces: interfaces,
            routes: Self.routes(router["routes"]),
            floatingIPs: fips.compactMap { fip in
                guard let fixed = fip["fixed_ip_address"]?.stringValue, let port = fip["port_id"]?.stringValue else { return nil }
                return .init(floatingIP: fip["floating_ip_address"]?.stringValue ?? "", fixedIP: fixed, portID: port)
            },
            portForwardings: forwards)
    }

    private func securityGroupPlan(_ id: String, _ db: any SQLDatabase) async throws -> SecurityGroupPlan? {
        guard let group = try await store.get(.securityGroups, id, in: db) else { return nil }
        let rules = try await store.rows(.securityGroupRules, where: "security_group_id = \(bind: id)", in: db)
        return SecurityGroupPlan(
            id: id, stateful: group["stateful"] != false,
            rules: rules.map { r in
                .init(id: r["id"]?.stringValue ?? "", direction: r["direction"]?.stringValue ?? "ingress",
                      ethertype: r["ethertype"]?.stringValue ?? "IPv4", proto: r["protocol"]?.stringValue,
                      portRangeMin: r["port_range_min"]?.intValue.map(Int.init), portRangeMax: r["port_range_max"]?.intValue.map(Int.init),
                      remoteIPPrefix: r["remote_ip_prefix"]?.stringValue, remoteGroupID: r["remote_group_id"]?.stringValue)
            })
    }
}
