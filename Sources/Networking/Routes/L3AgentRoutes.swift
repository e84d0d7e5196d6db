import Hummingbird
import MartletCore

/// The L3 agent scheduler (`l3_agent_scheduler`): the L3 agents hosting a router and the routers
/// on an L3 agent, moved by hand. Admins only, as in Neutron; see `AgentScheduler` for what the
/// bindings mean to the data plane (nothing).
struct L3AgentRoutes {
    let service: NetworkService

    func register(_ r: PolicyRouter) {
        let routers = ResourceRoutes(service: service, kind: Routers())
        let agents = AgentRoutes(service: service)
        r.get("/v2.0/routers/:id/l3-agents", rule: "get_l3-agents") { call in
            let hosts = try await service.read { db in
                let router = try await routers.visible(call, in: db)
                return try await service.store.agents(hosting: router["id"]?.stringValue ?? "", .routers, in: db)
            }
            return .json(.ok, ["agents": .array(hosts.map { .object(agents.show($0)) })])
        }
        r.get("/v2.0/agents/:id/l3-routers", rule: "get_l3-routers") { call in
            let hosted = try await agents.hosted(on: try call.param("id"), .routers)
            return .json(.ok, ["routers": .array(hosted.map { .object(Caller(call.auth).view($0, .routers)) })])
        }
        r.post("/v2.0/agents/:id/l3-routers", rule: "create_l3-router") { call in
            let routerID = try AgentRoutes.named("router_id", in: try await call.body())
            try await service.change(call) { change in try await AgentScheduler.add(router: routerID, to: try call.param("id"), change) }
            // Neutron answers the scheduling with a `null` body.
            return .json(.created, .null)
        }
        r.delete("/v2.0/agents/:id/l3-routers/:router_id", rule: "delete_l3-router") { call in
            try await service.change(call) { change in
                try await AgentScheduler.remove(router: try call.param("router_id"), from: try call.param("id"), change)
            }
            return .empty()
        }
    }
}
