import SQLKit

/// One of the scheduler's binding tables: which agents host which routers (L3) or networks (DHCP).
struct AgentBindings: Sendable {
    let table: String
    /// The column naming the hosted resource.
    let column: String
    let resource: ResourceTable
    let agentType: String

    static let routers = AgentBindings(table: "net_router_l3_agent_bindings", column: "router_id", resource: .routers, agentType: Agents.l3)
    static let networks = AgentBindings(table: "net_network_dhcp_agent_bindings", column: "network_id", resource: .networks, agentType: Agents.dhcp)
    static let all = [routers, networks]
}

/// The queries on the binding tables.
extension NetworkStore {
    func agentIDs(hosting resourceID: String, _ b: AgentBindings, in db: any SQLDatabase) async throws -> [String] {
        try await db.raw("""
            SELECT agent_id FROM \(unsafeRaw: b.table) WHERE \(unsafeRaw: b.column) = \(bind: resourceID) ORDER BY agent_id
            """).all().map { try $0.decode(column: "agent_id", as: String.self) }
    }

    /// The agents hosting the resource.
    func agents(hosting resourceID: String, _ b: AgentBindings, in db: any SQLDatabase) async throws -> [Doc] {
        try await rows(.agents, where: """
            id IN (SELECT agent_id FROM \(unsafeRaw: b.table) WHERE \(unsafeRaw: b.column) = \(bind: resourceID))
            """, in: db)
    }

    /// The routers or networks the agent hosts.
    func hosted(on agentID: String, _ b: AgentBindings, in db: any SQLDatabase) async throws -> [Doc] {
        try await rows(b.resource, where: """
            id IN (SELECT \(unsafeRaw: b.column) FROM \(unsafeRaw: b.table) WHERE agent_id = \(bind: agentID))
            """, in: db)
    }

    /// How many resources each agent hosts, for the least-loaded choice.
    func bindingCounts(_ b: AgentBindings, in db: any SQLDatabase) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try await db.raw("SELECT agent_id, COUNT(*) AS n FROM \(unsafeRaw: b.table) GROUP BY agent_id").all() {
            counts[try row.decode(column: "agent_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return counts
    }

    func bind(_ resourceID: String, agent agentID: String, _ b: AgentBindings, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO \(unsafeRaw: b.table) (\(unsafeRaw: b.column), agent_id) VALUES (\(bind: resourceID), \(bind: agentID))
            """).run()
    }

    /// Removes the resource's binding to `agentID`, or to every agent.
    func unbind(_ resourceID: String, agent agentID: String? = nil, _ b: AgentBindings, in db: any SQLDatabase) async throws {
        var query: SQLQueryString = "DELETE FROM \(unsafeRaw: b.table) WHERE \(unsafeRaw: b.column) = \(bind: resourceID)"
        if let agentID { query += " AND agent_id = \(bind: agentID)" as SQLQueryString }
        try await db.raw(query).run()
    }

    func unbindAgent(_ agentID: String, in db: any SQLDatabase) async throws {
        for b in AgentBindings.all {
            try await db.raw("DELETE FROM \(unsafeRaw: b.table) WHERE agent_id = \(bind: agentID)").run()
        }
    }
}
