import Foundation
import MartletCore
import SQLKit

/// The agents a Neutron deployment would run on each host the data plane serves. Martlet's
/// backend does their work itself; the rows exist so that the API tells admins the truth about
/// where networking runs, and so they can disable, describe or delete agents as in Neutron.
enum Agents {
    struct Kind {
        let type: String
        let binary: String
        let topic: String
        /// Neutron's L3 and DHCP agents report an availability zone; the others none.
        let zoned: Bool
        let configurations: JSON
    }

    static let l3 = "L3 agent"
    static let dhcp = "DHCP agent"
    /// The one zone the service reports (`/v2.0/availability_zones`).
    static let zone = "nova"

    /// One of each per host. The L3 agent is a legacy one: routers are not distributed over hosts.
    static let kinds: [Kind] = [
        Kind(type: l3, binary: "neutron-l3-agent", topic: "l3_agent", zoned: true, configurations: ["agent_mode": "legacy"]),
        Kind(type: dhcp, binary: "neutron-dhcp-agent", topic: "dhcp_agent", zoned: true, configurations: [:]),
        Kind(type: "Linux bridge agent", binary: "neutron-linuxbridge-agent", topic: "N/A", zoned: false, configurations: [:]),
        Kind(type: "Metadata agent", binary: "neutron-metadata-agent", topic: "N/A", zoned: false, configurations: [:]),
    ]

    static let updatable: Set<String> = ["admin_state_up", "description"]

    /// Neutron shows agents' times as `2024-05-01 12:00:00` (UTC, no zone).
    static func time(_ date: Date) -> String {
        String(Timestamp.iso(date).dropLast()).replacingOccurrences(of: "T", with: " ")
    }

    /// Records a start of the data plane on `hosts`: each host's agents are made the first time and
    /// marked started after; what admins set on them (`admin_state_up`, `description`) stays.
    static func register(hosts: [String], _ change: Change) async throws {
        // Processes sharing a database may start together: one registers at a time.
        try await change.store.lock("agents", in: change.db)
        let now = time(Date())
        for host in hosts {
            for kind in kinds {
                let existing = try await change.rows(.agents, "agent_type = \(bind: kind.type) AND host = \(bind: host)").first
                var agent = existing ?? [
                    "id": .string(Identifier.uuid()), "agent_type": .string(kind.type), "host": .string(host),
                    "admin_state_up": true, "created_at": .string(now),
                    "description": .string("Martlet's built-in data plane does this agent's work on \(host)."),
                ]
                agent["binary"] = .string(kind.binary)
                agent["topic"] = .string(kind.topic)
                agent["configurations"] = kind.configurations
                agent["availability_zone"] = kind.zoned ? .string(zone) : .null
                agent["started_at"] = .string(now)
                agent["heartbeat_timestamp"] = .string(now)
                if existing == nil { try await change.insert(.agents, agent) } else { try await change.update(.agents, agent) }
            }
        }
    }

    /// An agent as shown. It is alive while its host is one this process's data plane serves: that
    /// data plane runs in the process answering, so it reports in with every answer.
    static func view(_ agent: Doc, liveHosts: [String]) -> Doc {
        var agent = agent
        let alive = liveHosts.contains(agent["host"]?.stringValue ?? "")
        agent["alive"] = .bool(alive)
        if alive { agent["heartbeat_timestamp"] = .string(time(Date())) }
        return agent
    }

    /// Whether the scheduler may give the agent more work: enabled and alive.
    static func isUsable(_ agent: Doc, liveHosts: [String]) -> Bool {
        agent["admin_state_up"] == true && liveHosts.contains(agent["host"]?.stringValue ?? "")
    }

    static func notFound(_ id: String) -> APIError {
        APIError(.notFound, "Agent \(id) could not be found.", type: "AgentNotFound")
    }

    static func require(_ id: String, in db: any SQLDatabase, _ store: NetworkStore) async throws -> Doc {
        guard let agent = try await store.get(.agents, id, in: db) else { throw notFound(id) }
        return agent
    }

    /// `PUT /v2.0/agents/{id}`: only `admin_state_up` and `description` change.
    static func update(_ current: Doc, _ body: Body) throws -> Doc {
        if let key = body.members.keys.sorted().first(where: { ResourceTable.agents.attributes.contains($0) && !updatable.contains($0) }) {
            throw NetFault.badRequest("Cannot update read-only attribute \(key)")
        }
        try body.only(updatable)
        var agent = current
        if let up = try body.bool("admin_state_up") { agent["admin_state_up"] = .bool(up) }
        if body.has("description") { agent["description"] = JSON(try body.string("description")) }
        return agent
    }

    /// Deletes an agent and what it hosted; its host's agent comes back at the next start, as a
    /// Neutron agent does when it reports in again.
    static func delete(_ id: String, _ change: Change) async throws {
        guard try await change.get(.agents, id) != nil else { throw notFound(id) }
        for router in try await change.store.hosted(on: id, .routers, in: change.db) { change.note(.router(router["id"]?.stringValue ?? "")) }
        try await change.store.unbindAgent(id, in: change.db)
        try await change.delete(.agents, id)
    }
}
