import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

/// A network cloud started as `martlet serve` starts it: the data plane's hosts have their agents.
private func agentCloud(_ backend: TestBackend = .sqlite) async throws -> TestCloud {
    let cloud = try await networkCloud(backend)
    try await cloud.network.converge()
    return cloud
}

private let agentsPath = "/network/v2.0/agents"

extension Client {
    /// The agents the token is shown, with an optional query.
    fileprivate func agents(_ token: String, _ query: String = "") async throws -> [JSON] {
        try await call(.get, agentsPath + (query.isEmpty ? "" : "?" + query), token: token)["agents"]?.array ?? []
    }

    /// The ids of the agents of one type, by host.
    fileprivate func agentIDs(_ token: String, type: String) async throws -> [String] {
        try await agents(token, "agent_type=\(type.replacingOccurrences(of: " ", with: "%20"))&sort_key=host")
            .compactMap { $0["id"]?.stringValue }
    }

    /// The ids of a sub-collection (`/routers/{id}/l3-agents`, `/agents/{id}/dhcp-networks`…), sorted.
    fileprivate func ids(_ path: String, _ key: String, _ token: String) async throws -> [String] {
        (try await call(.get, "/network/v2.0/\(path)", token: token)[key]?.array ?? []).compactMap { $0["id"]?.stringValue }.sorted()
    }
}

private func unknown() -> String { UUID().uuidString.lowercased() }

@Suite struct AgentTests {
    @Test(arguments: TestBackend.available)
    func eachHostHasItsAgents(_ backend: TestBackend) async throws {
        let cloud = try await agentCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let agents = try await c.agents(admin)
            // Two fake hosts by default, four agents on each.
            #expect(agents.count == 8)
            #expect(Set(agents.compactMap { $0["host"]?.stringValue }) == ["fake-1", "fake-2"])
            #expect(Set(agents.compactMap { $0["agent_type"]?.stringValue }) == ["L3 agent", "DHCP agent", "Linux bridge agent", "Metadata agent"])
            let l3 = try #require(agents.first { $0["agent_type"] == "L3 agent" && $0["host"] == "fake-1" })
            #expect(l3["binary"] == "neutron-l3-agent" && l3["topic"] == "l3_agent" && l3["alive"] == true && l3["admin_state_up"] == true)
            #expect(l3["availability_zone"] == "nova" && l3["configurations"]?["agent_mode"] == "legacy")
            #expect(l3["description"]?.stringValue?.isEmpty == false)
            for key in ["created_at", "started_at", "heartbeat_timestamp"] {
                let text = l3[key]?.stringValue ?? ""
                #expect(text.count == 19 && text.dropFirst(10).hasPrefix(" "), "\(key): \(text)")
            }
            let dhcp = try #require(agents.first { $0["agent_type"] == "DHCP agent" })
            #expect(dhcp["binary"] == "neutron-dhcp-agent" && dhcp["topic"] == "dhcp_agent" && dhcp["availability_zone"] == "nova")
            let bridge = try #require(agents.first { $0["agent_type"] == "Linux bridge agent" })
            #expect(bridge["binary"] == "neutron-linuxbridge-agent" && bridge["topic"] == "N/A" && bridge["availability_zone"] == .null)
            let metadata = try #require(agents.first { $0["agent_type"] == "Metadata agent" })
            #expect(metadata["binary"] == "neutron-metadata-agent" && metadata["alive"] == true)

            let id = try #require(l3["id"]?.stringValue)
            let shown = try await c.call(.get, "\(agentsPath)/\(id)", token: admin)
            #expect(shown.status == .ok && shown["agent"]?["host"] == "fake-1" && shown["agent"]?["agent_type"] == "L3 agent")
            let missing = try await c.call(.get, "\(agentsPath)/\(unknown())", token: admin)
            #expect(missing.status == .notFound && missing.faultType == "AgentNotFound")
            // Filters compare as Neutron's (MySQL) database does, ignoring case: tempest asks for "DHCP Agent".
            #expect(try await c.agents(admin, "agent_type=DHCP%20Agent").count == 2)
            let onFake2 = try await c.agents(admin, "host=fake-2&agent_type=L3%20agent")
            #expect(onFake2.count == 1 && onFake2.first?["host"] == "fake-2")
            #expect(try await c.agents(admin, "alive=true").count == 8)
            #expect(try await c.agents(admin, "admin_state_up=false").isEmpty)
            #expect(try await c.call(.get, "\(agentsPath)?colour=red", token: admin).status == .badRequest)
            let selected = try await c.agents(admin, "fields=id&fields=host")
            #expect(selected.count == 8 && selected.allSatisfy { $0.objectValue.map { Set($0.keys) } == ["id", "host"] })
            var seen: [String] = []
            var next: String? = "\(agentsPath)?limit=3"
            while let path = next {
                let page = try await c.call(.get, path, token: admin)
                seen += page["agents"]?.array.compactMap { $0["id"]?.stringValue } ?? []
                next = page["agents_links"]?.array.first { $0["rel"] == "next" }?["href"]?.stringValue.map { String($0.dropFirst("http://127.0.0.1:5000".count)) }
                #expect(seen.count <= 8)
            }
            #expect(seen == agents.compactMap { $0["id"]?.stringValue }.sorted())
            // A restart starts the same agents again.
            try await cloud.network.converge()
            #expect(Set(try await c.agents(admin).compactMap { $0["id"] }) == Set(agents.compactMap { $0["id"] }))
        }
    }

    @Test func oneHostHasOneOfEach() async throws {
        let cloud = try await networkCloud(started: false) { $0.fakeHosts = 1 }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            // Before the data plane starts there is no agent to list.
            #expect(try await c.agents(admin).isEmpty)
            try await cloud.network.converge()
            #expect(try await c.agents(admin).compactMap { $0["host"]?.stringValue } == Array(repeating: "fake-1", count: 4))
        }
    }

    @Test func adminsDisableDescribeAndDeleteAgents() async throws {
        let cloud = try await agentCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let dhcp = try #require(try await c.agents(admin, "agent_type=DHCP%20agent&host=fake-1").first)
            let path = "\(agentsPath)/\(dhcp["id"]!.stringValue!)"
            let updated = try await c.call(.put, path, token: admin, json: ["agent": ["admin_state_up": false, "description": "maintenance"]])
            #expect(updated.status == .ok && updated["agent"]?["admin_state_up"] == false && updated["agent"]?["description"] == "maintenance")
            #expect(updated["agent"]?["host"] == "fake-1" && updated["agent"]?["alive"] == true)
            #expect(try await c.call(.get, path, token: admin)["agent"]?["admin_state_up"] == false)
            let readOnly = try await c.call(.put, path, token: admin, json: ["agent": ["host": "elsewhere"]])
            #expect(readOnly.status == .badRequest && readOnly["NeutronError"]?["message"] == "Cannot update read-only attribute host")
            #expect(try await c.call(.put, path, token: admin, json: ["agent": ["colour": "red"]]).status == .badRequest)
            #expect(try await c.call(.put, path, token: admin, json: ["agent": ["admin_state_up": "maybe"]]).status == .badRequest)
            #expect(try await c.call(.put, path, token: admin, json: ["description": "no wrapper"]).status == .badRequest)
            #expect(try await c.call(.put, path, token: admin, json: ["agent": ["description": .null]])["agent"]?["description"] == .null)
            #expect(try await c.call(.put, "\(agentsPath)/\(unknown())", token: admin, json: ["agent": ["description": "x"]]).faultType == "AgentNotFound")
            // A restart keeps what the admin set.
            try await cloud.network.converge()
            #expect(try await c.call(.get, path, token: admin)["agent"]?["admin_state_up"] == false)
            // Deleted, it is gone until its host starts again, as a new agent.
            #expect(try await c.call(.delete, path, token: admin).status == .noContent)
            let gone = try await c.call(.get, path, token: admin)
            #expect(gone.status == .notFound && gone.faultType == "AgentNotFound")
            #expect(try await c.call(.delete, path, token: admin).status == .notFound)
            #expect(try await c.agents(admin).count == 7)
            try await cloud.network.converge()
            let back = try await c.agents(admin, "agent_type=DHCP%20agent&host=fake-1")
            #expect(back.count == 1 && back.first?["id"] != dhcp["id"] && back.first?["admin_state_up"] == true)
        }
    }

    @Test func membersAndReadersAreShownNoAgent() async throws {
        let cloud = try await agentCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let a = try await c.makeMember(admin: admin, name: "ola", password: "pw")
            let r = try await c.makeMember(admin: admin, name: "rita", password: "pw", role: "reader")
            let ola = try await c.token("ola", "pw", project: a.projectName)
            let rita = try await c.token("rita", "pw", project: r.projectName)
            let l3 = try #require(try await c.agentIDs(admin, type: "L3 agent").first)
            let dhcp = try #require(try await c.agentIDs(admin, type: "DHCP agent").first)
            let (net, _) = try await c.networkWithSubnet(ola)
            let router = try #require(try await c.create("routers", "router", ola, ["name": "r"])["id"]?.stringValue)
            for token in [ola, rita] {
                // Neutron filters the list rather than refusing it: 200 and nothing of the cloud's hosts.
                let list = try await c.call(.get, agentsPath, token: token)
                #expect(list.status == .ok && list["agents"] == [])
                #expect(!String(decoding: list.bytes, as: UTF8.self).contains("fake-"))
                #expect(try await c.call(.get, "\(agentsPath)?agent_type=L3%20agent", token: token)["agents"] == [])
                // One agent, real or not, is not there for them.
                for id in [l3, unknown()] {
                    let replies = [
                        try await c.call(.get, "\(agentsPath)/\(id)", token: token),
                        try await c.call(.put, "\(agentsPath)/\(id)", token: token, json: ["agent": ["admin_state_up": false]]),
                        try await c.call(.delete, "\(agentsPath)/\(id)", token: token),
                    ]
                    #expect(replies.allSatisfy { $0.status == .notFound }, "\(replies.map(\.status))")
                }
                // The schedulers' routes are refused.
                let refused = [
                    try await c.call(.get, "/network/v2.0/routers/\(router)/l3-agents", token: token),
                    try await c.call(.get, "\(agentsPath)/\(l3)/l3-routers", token: token),
                    try await c.call(.post, "\(agentsPath)/\(l3)/l3-routers", token: token, json: ["router_id": .string(router)]),
                    try await c.call(.delete, "\(agentsPath)/\(l3)/l3-routers/\(router)", token: token),
                    try await c.call(.get, "/network/v2.0/networks/\(net)/dhcp-agents", token: token),
                    try await c.call(.get, "\(agentsPath)/\(dhcp)/dhcp-networks", token: token),
                    try await c.call(.post, "\(agentsPath)/\(dhcp)/dhcp-networks", token: token, json: ["network_id": .string(net)]),
                    try await c.call(.delete, "\(agentsPath)/\(dhcp)/dhcp-networks/\(net)", token: token),
                ]
                #expect(refused.allSatisfy { $0.status == .forbidden && $0.faultType == "PolicyNotAuthorized" }, "\(refused.map(\.status))")
            }
            #expect(try await c.call(.get, agentsPath).status == .unauthorized)
            // Nothing they tried changed anything.
            #expect(try await c.agents(admin, "admin_state_up=true").count == 8)
            #expect(try await c.ids("networks/\(net)/dhcp-agents", "agents", admin) == [dhcp])
        }
    }

    @Test(arguments: TestBackend.available)
    func routersAreScheduledToL3Agents(_ backend: TestBackend) async throws {
        let cloud = try await agentCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let l3 = try await c.agentIDs(admin, type: "L3 agent")
            let dhcp = try #require(try await c.agentIDs(admin, type: "DHCP agent").first)
            try #require(l3.count == 2)
            func hosts(_ router: String) async throws -> [String] { try await c.ids("routers/\(router)/l3-agents", "agents", admin) }
            func routersOn(_ agent: String) async throws -> [String] { try await c.ids("agents/\(agent)/l3-routers", "routers", admin) }
            func add(_ router: String, to agent: String) async throws -> Reply {
                try await c.call(.post, "\(agentsPath)/\(agent)/l3-routers", token: admin, json: ["router_id": .string(router)])
            }
            func remove(_ router: String, from agent: String) async throws -> Reply {
                try await c.call(.delete, "\(agentsPath)/\(agent)/l3-routers/\(router)", token: admin)
            }
            func interface(_ router: String, cidr: String) async throws {
                let (_, subnet) = try await c.networkWithSubnet(admin, cidr: cidr)
                let added = try await c.call(.put, "/network/v2.0/routers/\(router)/add_router_interface", token: admin, json: ["subnet_id": .string(subnet)])
                #expect(added.status == .ok)
            }

            // A router with neither gateway nor interface waits unhosted; its first interface schedules it.
            let r1 = try #require(try await c.create("routers", "router", admin, ["name": "r1"])["id"]?.stringValue)
            #expect(try await hosts(r1).isEmpty)
            try await interface(r1, cidr: "10.1.0.0/24")
            #expect(try await hosts(r1) == [l3[0]])
            #expect(try await routersOn(l3[0]) == [r1])
            let shown = try await c.call(.get, "/network/v2.0/routers/\(r1)/l3-agents", token: admin)["agents"]?.array.first
            #expect(shown?["agent_type"] == "L3 agent" && shown?["alive"] == true && shown?["host"] == "fake-1")
            // A router made with a gateway is scheduled at once, to the least busy agent.
            let ext = try await c.create("networks", "network", admin, ["name": "public", "router:external": true])
            _ = try await c.create("subnets", "subnet", admin, ["network_id": ext["id"]!, "cidr": "203.0.113.0/24", "ip_version": 4, "enable_dhcp": false])
            let r2 = try #require(try await c.create("routers", "router", admin, ["name": "r2", "external_gateway_info": ["network_id": ext["id"]!]])["id"]?.stringValue)
            #expect(try await hosts(r2) == [l3[1]])

            // By hand, with Neutron's refusals.
            let hosted = try await add(r1, to: l3[1])
            #expect(hosted.status == .conflict && hosted.faultType == "RouterHostedByL3Agent")
            let again = try await add(r1, to: l3[0])
            #expect(again.status == .created && again.body == .null)
            let wrongType = try await add(r1, to: dhcp)
            #expect(wrongType.status == .notFound && wrongType.faultType == "InvalidL3Agent")
            #expect(try await add(r1, to: unknown()).faultType == "AgentNotFound")
            #expect(try await add(unknown(), to: l3[0]).faultType == "RouterNotFound")
            #expect(try await c.call(.post, "\(agentsPath)/\(l3[0])/l3-routers", token: admin, json: ["router": "x"]).status == .badRequest)
            #expect(try await c.call(.post, "\(agentsPath)/\(l3[0])/l3-routers", token: admin, json: ["router_id": 7]).status == .badRequest)
            #expect(try await c.call(.get, "\(agentsPath)/\(unknown())/l3-routers", token: admin).faultType == "AgentNotFound")
            #expect(try await c.call(.get, "/network/v2.0/routers/\(unknown())/l3-agents", token: admin).faultType == "RouterNotFound")
            #expect(try await routersOn(dhcp).isEmpty)

            // Off one agent and onto another: a router no agent hosts is not built, as in Neutron.
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.routers[r1]?.interfaces.count == 1)
            #expect(try await remove(r1, from: l3[0]).status == .noContent)
            #expect(try await hosts(r1).isEmpty)
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.routers[r1] == nil, "an unhosted router is still built")
            #expect(try await remove(r1, from: l3[0]).status == .noContent, "a router not on the agent is no error, as in Neutron")
            #expect(try await remove(r1, from: unknown()).faultType == "AgentNotFound")
            #expect(try await remove(unknown(), from: l3[0]).faultType == "RouterNotFound")
            #expect(try await add(r1, to: l3[1]).status == .created)
            #expect(try await hosts(r1) == [l3[1]])
            #expect(try await routersOn(l3[1]) == [r1, r2].sorted())
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.routers[r1]?.interfaces.count == 1, "a router hosted again is not built again")

            // A highly available router may be on several agents.
            let ha = try #require(try await c.create("routers", "router", admin, ["name": "ha", "ha": true])["id"]?.stringValue)
            #expect(try await add(ha, to: l3[0]).status == .created)
            #expect(try await add(ha, to: l3[1]).status == .created)
            #expect(try await hosts(ha) == l3.sorted())

            // A disabled agent takes nothing, by hand or from the scheduler, however idle.
            let disabled = try await c.call(.put, "\(agentsPath)/\(l3[0])", token: admin, json: ["agent": ["admin_state_up": false]])
            #expect(disabled.status == .ok)
            #expect(try await remove(ha, from: l3[0]).status == .noContent)
            let refused = try await add(ha, to: l3[0])
            #expect(refused.status == .notFound && refused.faultType == "InvalidL3Agent")
            let r3 = try #require(try await c.create("routers", "router", admin, ["name": "r3"])["id"]?.stringValue)
            try await interface(r3, cidr: "10.3.0.0/24")
            #expect(try await hosts(r3) == [l3[1]])

            // A distributed router needs a DVR agent, which this data plane does not claim to be.
            let dvr = try #require(try await c.create("routers", "router", admin, ["name": "dvr", "distributed": true])["id"]?.stringValue)
            try await interface(dvr, cidr: "10.4.0.0/24")
            #expect(try await hosts(dvr).isEmpty)
            let mismatch = try await add(dvr, to: l3[1])
            #expect(mismatch.status == .conflict && mismatch.faultType == "RouterL3AgentMismatch")

            // A deleted router leaves no binding behind.
            #expect(try await c.call(.delete, "/network/v2.0/routers/\(r2)", token: admin).status == .noContent)
            let left = try await routersOn(l3[1])
            #expect(!left.contains(r2) && left.contains(r1))
        }
    }

    @Test(arguments: TestBackend.available)
    func networksWithDHCPAreScheduledToDHCPAgents(_ backend: TestBackend) async throws {
        let cloud = try await agentCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let dhcp = try await c.agentIDs(admin, type: "DHCP agent")
            let l3 = try #require(try await c.agentIDs(admin, type: "L3 agent").first)
            try #require(dhcp.count == 2)
            func hosts(_ network: String) async throws -> [String] { try await c.ids("networks/\(network)/dhcp-agents", "agents", admin) }
            func networksOn(_ agent: String) async throws -> [String] { try await c.ids("agents/\(agent)/dhcp-networks", "networks", admin) }
            func add(_ network: String, to agent: String) async throws -> Reply {
                try await c.call(.post, "\(agentsPath)/\(agent)/dhcp-networks", token: admin, json: ["network_id": .string(network)])
            }
            func remove(_ network: String, from agent: String) async throws -> Reply {
                try await c.call(.delete, "\(agentsPath)/\(agent)/dhcp-networks/\(network)", token: admin)
            }

            // No DHCP subnet, no DHCP agent.
            let bare = try #require(try await c.create("networks", "network", admin, ["name": "bare"])["id"]?.stringValue)
            #expect(try await hosts(bare).isEmpty)
            let (quiet, quietSubnet) = try await c.networkWithSubnet(admin, cidr: "10.2.0.0/24", extra: ["enable_dhcp": false])
            #expect(try await hosts(quiet).isEmpty)
            // A network's DHCP subnet schedules it to the least busy agent; turning DHCP on does too.
            let (net, _) = try await c.networkWithSubnet(admin)
            #expect(try await hosts(net) == [dhcp[0]])
            #expect(try await networksOn(dhcp[0]) == [net])
            let shown = try await c.call(.get, "/network/v2.0/networks/\(net)/dhcp-agents", token: admin)["agents"]?.array.first
            #expect(shown?["agent_type"] == "DHCP agent" && shown?["alive"] == true)
            #expect(try await c.call(.put, "/network/v2.0/subnets/\(quietSubnet)", token: admin, json: ["subnet": ["enable_dhcp": true]]).status == .ok)
            #expect(try await hosts(quiet) == [dhcp[1]])

            // By hand: a second agent may serve a network too, the same one twice is refused.
            let twice = try await add(net, to: dhcp[0])
            #expect(twice.status == .conflict && twice.faultType == "NetworkHostedByDHCPAgent")
            let second = try await add(net, to: dhcp[1])
            #expect(second.status == .created && second.body == .null)
            #expect(try await hosts(net) == dhcp.sorted())
            let wrongType = try await add(net, to: l3)
            #expect(wrongType.status == .notFound && wrongType.faultType == "InvalidDHCPAgent")
            #expect(try await add(net, to: unknown()).faultType == "AgentNotFound")
            #expect(try await add(unknown(), to: dhcp[0]).faultType == "NetworkNotFound")
            #expect(try await c.call(.post, "\(agentsPath)/\(dhcp[0])/dhcp-networks", token: admin, json: [:]).status == .badRequest)
            #expect(try await c.call(.get, "\(agentsPath)/\(unknown())/dhcp-networks", token: admin).faultType == "AgentNotFound")
            #expect(try await c.call(.get, "/network/v2.0/networks/\(unknown())/dhcp-agents", token: admin).faultType == "NetworkNotFound")
            #expect(try await networksOn(l3).isEmpty)

            // Off again; the data plane still serves the network without any DHCP agent named.
            #expect(try await remove(net, from: dhcp[1]).status == .noContent)
            let notThere = try await remove(net, from: dhcp[1])
            #expect(notThere.status == .conflict && notThere.faultType == "NetworkNotHostedByDhcpAgent")
            #expect(try await remove(net, from: unknown()).faultType == "AgentNotFound")
            #expect(try await remove(net, from: dhcp[0]).status == .noContent)
            #expect(try await hosts(net).isEmpty)
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.networks[net]?.subnets.first?.enableDHCP == true)

            // A disabled agent is refused by hand and passed over by the scheduler.
            #expect(try await c.call(.put, "\(agentsPath)/\(dhcp[0])", token: admin, json: ["agent": ["admin_state_up": false]]).status == .ok)
            let refused = try await add(bare, to: dhcp[0])
            #expect(refused.status == .notFound && refused.faultType == "InvalidDHCPAgent")
            let (later, _) = try await c.networkWithSubnet(admin, cidr: "10.5.0.0/24")
            #expect(try await hosts(later) == [dhcp[1]])

            // A deleted network leaves no binding behind.
            #expect(try await c.call(.delete, "/network/v2.0/networks/\(quiet)", token: admin).status == .noContent)
            #expect(try await networksOn(dhcp[1]) == [later])
        }
    }

    @Test func aStartHostsWhatWaitedAndADeletedAgentTakesItsBindings() async throws {
        let cloud = try await networkCloud(started: false)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            // Made before the data plane's agents exist: nothing can host them yet.
            let (net, subnet) = try await c.networkWithSubnet(admin)
            let router = try #require(try await c.create("routers", "router", admin, ["name": "r"])["id"]?.stringValue)
            #expect(try await c.call(.put, "/network/v2.0/routers/\(router)/add_router_interface", token: admin, json: ["subnet_id": .string(subnet)]).status == .ok)
            let idle = try #require(try await c.create("routers", "router", admin, ["name": "idle"])["id"]?.stringValue)
            #expect(try await c.ids("routers/\(router)/l3-agents", "agents", admin).isEmpty)
            try await cloud.network.converge()
            let l3 = try await c.ids("routers/\(router)/l3-agents", "agents", admin)
            #expect(l3.count == 1)
            #expect(try await c.ids("networks/\(net)/dhcp-agents", "agents", admin).count == 1)
            #expect(try await c.ids("routers/\(idle)/l3-agents", "agents", admin).isEmpty)
            // Deleting the agent takes the router off it; the next start hosts it again.
            #expect(try await c.call(.delete, "\(agentsPath)/\(l3[0])", token: admin).status == .noContent)
            #expect(try await c.ids("routers/\(router)/l3-agents", "agents", admin).isEmpty)
            try await cloud.network.converge()
            let again = try await c.ids("routers/\(router)/l3-agents", "agents", admin)
            #expect(again.count == 1 && again != l3)
        }
    }
}
