import Hummingbird
import MartletCore
import SQLKit

/// `/v2.0/agents`: the agents of the data plane's hosts. Admins list, show, update and delete them.
/// Neutron never refuses the list: its `get_agent` rule filters the items, so anyone else gets an
/// empty list, and a 404 for any one agent, which tells nothing of the cloud's hosts.
struct AgentRoutes {
    let service: NetworkService
    static let table = ResourceTable.agents

    func register(_ r: PolicyRouter) {
        r.get("/v2.0/agents", rule: "get_agents") { call in
            let query = try ListQuery(call.request, table: Self.table)
            guard call.can("get_agent") else { return .json(.ok, ["agents": []]) }
            let agents = try await service.read { db in try await service.store.rows(Self.table, where: "1 = 1", in: db) }
            return .json(.ok, try Self.page(agents.map(show).filter { Self.matches($0, query) }, query,
                                            baseURL: "\(service.publicURL)/network/v2.0"))
        }
        r.get("/v2.0/agents/:id", rule: "get_agent", loadsTarget: true) { call in
            let agent = try await visible(call)
            return .json(.ok, ["agent": .object(try ListQuery(call.request, table: Self.table).project(show(agent)))])
        }
        r.put("/v2.0/agents/:id", rule: "update_agent", loadsTarget: true) { call in
            let json = try await call.body()
            let agent = try await service.change(call) { change in
                let current = try await visible(call, change.db)
                let updated = try Agents.update(current, Body(try ResourceRoutes.resource(json, Self.table), resource: "agent"))
                return updated == current ? current : try await change.update(Self.table, updated)
            }
            return .json(.ok, ["agent": .object(show(agent))])
        }
        r.delete("/v2.0/agents/:id", rule: "delete_agent", loadsTarget: true) { call in
            try await service.change(call) { change in
                let agent = try await visible(call, change.db)
                try await Agents.delete(agent["id"]?.stringValue ?? "", change)
            }
            return .empty()
        }
    }

    func show(_ agent: Doc) -> Doc { Agents.view(agent, liveHosts: service.backend.hosts) }

    /// The routers or networks an agent hosts (`l3-routers`, `dhcp-networks`); 404 for an unknown agent.
    func hosted(on agentID: String, _ b: AgentBindings) async throws -> [Doc] {
        try await service.read { db in
            _ = try await Agents.require(agentID, in: db, service.store)
            return try await service.store.hosted(on: agentID, b, in: db)
        }
    }

    /// The agent named by the path, for a caller who may see agents and passes the route's rule.
    /// Others are told no more than Neutron tells them: that there is nothing to see.
    private func visible(_ call: APICall, _ db: (any SQLDatabase)? = nil) async throws -> Doc {
        guard call.can("get_agent") else { throw APIError(.notFound, "The resource could not be found.", type: "HTTPNotFound") }
        try call.authorize([:])
        let id = try call.param("id")
        if let db { return try await Agents.require(id, in: db, service.store) }
        return try await service.read { db in try await Agents.require(id, in: db, service.store) }
    }

    /// Neutron filters agents in its database, whose usual collation (MySQL's) ignores case: tempest
    /// asks for `agent_type=DHCP Agent` and expects the DHCP agent.
    static func matches(_ agent: Doc, _ query: ListQuery) -> Bool {
        query.filters.allSatisfy { attribute, values in
            guard let value = agent[attribute] else { return false }
            return values.contains { wanted in
                value.stringValue.map { $0.lowercased() == wanted.lowercased() } ?? ListQuery.matches(value, wanted)
            }
        }
    }

    /// Sorted, paged by `limit` and `marker`, with the links, and only the `fields` asked for.
    static func page(_ agents: [Doc], _ query: ListQuery, baseURL: String) throws -> JSON {
        var docs = query.sorted(agents)
        if query.pageReverse { docs.reverse() }
        docs = Array(try Pagination.after(query.marker, in: docs, id: { $0["id"]?.stringValue }, notFound: Agents.notFound))
        let hasMore = query.limit.map { docs.count > $0 } ?? false
        if let limit = query.limit { docs = Array(docs.prefix(limit)) }
        if query.pageReverse { docs.reverse() }
        var body: [String: JSON] = ["agents": .array(docs.map { .object(query.project($0)) })]
        if let links = query.links(table, baseURL: baseURL, first: docs.first?["id"]?.stringValue, last: docs.last?["id"]?.stringValue,
                                   hasMore: hasMore) {
            body["agents_links"] = links
        }
        return .object(body)
    }

    /// The id a scheduler POST names (`{"router_id": …}`, `{"network_id": …}`).
    static func named(_ key: String, in body: JSON) throws -> String {
        guard let value = body[key] else { throw NetFault.badRequest("Failed to parse request. Required attribute '\(key)' not specified") }
        guard let id = value.stringValue, !id.isEmpty else { throw NetFault.invalid(key, "'\(value.text)' is not a valid UUID") }
        return id
    }
}
