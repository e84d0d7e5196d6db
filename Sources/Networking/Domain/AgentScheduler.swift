import MartletCore
import SQLKit

/// Neutron's L3 and DHCP agent schedulers: which L3 agent hosts a router, which DHCP agents serve
/// a network, chosen automatically or moved by an admin, with Neutron's refusals.
///
/// A router is built by the data plane while an L3 agent hosts it (taken off its agent, its
/// namespace goes and its floating IPs are `DOWN`, as with Neutron's agents). DHCP bindings are
/// bookkeeping: the built-in data plane serves every network of its hosts whichever DHCP agent
/// the database names.
enum AgentScheduler {
    /// Puts a router that has a gateway or an interface on the least busy usable L3 agent, unless an
    /// agent hosts it already (Neutron schedules routers as they get either). A distributed router
    /// needs an agent in a DVR mode, which these legacy agents are not: it stays unhosted.
    static func schedule(router: Doc, _ change: Change) async throws {
        guard router["distributed"] != true else { return }
        try await schedule(router["id"]?.stringValue ?? "", .routers, change)
    }

    /// Puts a network with a DHCP-enabled subnet on the least busy usable DHCP agent, unless one
    /// serves it already (the caller knows the network wants DHCP).
    static func schedule(network networkID: String, _ change: Change) async throws {
        try await schedule(networkID, .networks, change)
    }

    private static func schedule(_ id: String, _ b: AgentBindings, _ change: Change) async throws {
        let store = change.store, db = change.db
        guard try await store.agentIDs(hosting: id, b, in: db).isEmpty else { return }
        let live = change.service.backend.hosts
        let candidates = try await store.rows(.agents, where: "agent_type = \(bind: b.agentType)", in: db)
            .filter { Agents.isUsable($0, liveHosts: live) }
        let load = try await store.bindingCounts(b, in: db)
        func rank(_ agent: Doc) -> (Int, String) { (load[agent["id"]?.stringValue ?? ""] ?? 0, agent["host"]?.stringValue ?? "") }
        guard let chosen = candidates.min(by: { rank($0) < rank($1) })?["id"]?.stringValue else { return }
        try await store.bind(id, agent: chosen, b, in: db)
    }

    /// After a start, as Neutron's agents ask when they sync: routers with a gateway or an interface,
    /// and networks with a DHCP-enabled subnet, that no agent hosts get one.
    static func scheduleUnhosted(_ change: Change) async throws {
        let ports = try await change.store.rows(.ports, where: "device_owner IN ('network:router_gateway', 'network:router_interface')", in: change.db)
        for routerID in Set(ports.compactMap { $0["device_id"]?.stringValue }).sorted() {
            if let router = try await change.store.get(.routers, routerID, in: change.db) { try await schedule(router: router, change) }
        }
        let subnets = try await change.store.rows(.subnets, where: "1 = 1", in: change.db)
        for networkID in Set(subnets.filter { $0["enable_dhcp"] == true }.compactMap { $0["network_id"]?.stringValue }).sorted() {
            try await schedule(network: networkID, change)
        }
    }

    /// Forgets what a deleted router or network was hosted by.
    static func forget(_ id: String, _ b: AgentBindings, _ change: Change) async throws {
        try await change.store.unbind(id, b, in: change.db)
    }

    // MARK: - By hand (`/v2.0/agents/{id}/l3-routers`, `/dhcp-networks`)

    /// An admin puts a router on an L3 agent. Already there is no error; on another agent is,
    /// unless the router is highly available (hosted by several).
    static func add(router routerID: String, to agentID: String, _ change: Change) async throws {
        let router = try await change.require(.routers, routerID)
        let agent = try await Agents.require(agentID, in: change.db, change.store)
        let invalid = APIError(.notFound, "Agent \(agentID) is not a L3 Agent or has been disabled", type: "InvalidL3Agent")
        guard agent["agent_type"]?.stringValue == Agents.l3 else { throw invalid }
        if router["distributed"] == true {
            throw NetFault.conflict("Cannot host distributed router \(routerID) on legacy L3 agent \(agentID).", type: "RouterL3AgentMismatch")
        }
        guard agent["admin_state_up"] == true else { throw invalid }
        let hosts = try await change.store.agentIDs(hosting: routerID, .routers, in: change.db)
        if hosts.contains(agentID) { return }
        if let other = hosts.first, router["ha"] != true {
            throw NetFault.conflict("The router \(routerID) has been already hosted by the L3 Agent \(other).", type: "RouterHostedByL3Agent")
        }
        try await change.store.bind(routerID, agent: agentID, .routers, in: change.db)
        change.note(.router(routerID))
    }

    /// An admin takes a router off an L3 agent; one it was not on is no error, as in Neutron.
    static func remove(router routerID: String, from agentID: String, _ change: Change) async throws {
        _ = try await Agents.require(agentID, in: change.db, change.store)
        _ = try await change.require(.routers, routerID)
        try await change.store.unbind(routerID, agent: agentID, .routers, in: change.db)
        change.note(.router(routerID))
    }

    /// An admin has a DHCP agent serve a network (besides any others serving it).
    static func add(network networkID: String, to agentID: String, _ change: Change) async throws {
        _ = try await change.require(.networks, networkID)
        let agent = try await Agents.require(agentID, in: change.db, change.store)
        guard agent["agent_type"]?.stringValue == Agents.dhcp, agent["admin_state_up"] == true else {
            throw APIError(.notFound, "Agent \(agentID) is not a valid DHCP Agent or has been disabled.", type: "InvalidDHCPAgent")
        }
        if try await change.store.agentIDs(hosting: networkID, .networks, in: change.db).contains(agentID) {
            throw NetFault.conflict("The network \(networkID) has been already hosted by the DHCP Agent \(agentID).", type: "NetworkHostedByDHCPAgent")
        }
        try await change.store.bind(networkID, agent: agentID, .networks, in: change.db)
    }

    static func remove(network networkID: String, from agentID: String, _ change: Change) async throws {
        _ = try await Agents.require(agentID, in: change.db, change.store)
        guard try await change.store.agentIDs(hosting: networkID, .networks, in: change.db).contains(agentID) else {
            throw NetFault.conflict("The network \(networkID) is not hosted by the DHCP Agent \(agentID).", type: "NetworkNotHostedByDhcpAgent")
        }
        try await change.store.unbind(networkID, agent: agentID, .networks, in: change.db)
    }
}
