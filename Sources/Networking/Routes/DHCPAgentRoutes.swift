import Hummingbird
import MartletCore

/// The DHCP agent scheduler (`dhcp_agent_scheduler`): the DHCP agents serving a network and the
/// networks a DHCP agent serves, moved by hand. Admins only, as in Neutron; see `AgentScheduler`
/// for what the bindings mean to the data plane (nothing).
struct DHCPAgentRoutes {
    let service: NetworkService

    func register(_ r: PolicyRouter) {
        let networks = ResourceRoutes(service: service, kind: Networks())
        let agents = AgentRoutes(service: service)
        r.get("/v2.0/networks/:id/dhcp-agents", rule: "get_dhcp-agents") { call in
            let hosts = try await service.read { db in
                let network = try await networks.visible(call, in: db)
                return try await service.store.agents(hosting: network["id"]?.stringValue ?? "", .networks, in: db)
            }
            return .json(.ok, ["agents": .array(hosts.map { .object(agents.show($0)) })])
        }
        r.get("/v2.0/agents/:id/dhcp-networks", rule: "get_dhcp-networks") { call in
            let hosted = try await agents.hosted(on: try call.param("id"), .networks)
            return .json(.ok, ["networks": .array(hosted.map { .object(Caller(call.auth).view($0, .networks)) })])
        }
        r.post("/v2.0/agents/:id/dhcp-networks", rule: "create_dhcp-network") { call in
            let networkID = try AgentRoutes.named("network_id", in: try await call.body())
            try await service.change(call) { change in try await AgentScheduler.add(network: networkID, to: try call.param("id"), change) }
            return .json(.created, .null)
        }
        r.delete("/v2.0/agents/:id/dhcp-networks/:network_id", rule: "delete_dhcp-network") { call in
            try await service.change(call) { change in
                try await AgentScheduler.remove(network: try call.param("network_id"), from: try call.param("id"), change)
            }
            return .empty()
        }
    }
}
