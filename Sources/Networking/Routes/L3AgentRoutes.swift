import Hummingbird
import MartletCore

/// The L3 agent scheduler's routes, answered against the agents this service lists: none, since
/// one process routes for every router. So no agent hosts a router and no agent can be named.
/// The `l3_agent_scheduler` extension stays unadvertised: clients that see it (tempest's scheduler
/// tests) expect an alive L3 agent to move routers between.
struct L3AgentRoutes {
    let service: NetworkService

    func register(_ r: PolicyRouter) {
        let routers = ResourceRoutes(service: service, kind: Routers())
        r.get("/v2.0/routers/:id/l3-agents", rule: "get_l3-agents") { call in
            _ = try await service.read { db in try await routers.visible(call, in: db) }
            return .json(.ok, ["agents": []])
        }
        r.get("/v2.0/agents/:agent_id/l3-routers", rule: "get_l3-routers") { call in throw try Self.noAgent(call) }
        r.post("/v2.0/agents/:agent_id/l3-routers", rule: "create_l3-router") { call in throw try Self.noAgent(call) }
        r.delete("/v2.0/agents/:agent_id/l3-routers/:router_id", rule: "delete_l3-router") { call in throw try Self.noAgent(call) }
    }

    static func noAgent(_ call: APICall) throws -> APIError {
        APIError(.notFound, "Agent \(try call.param("agent_id")) could not be found.", type: "AgentNotFound")
    }
}
