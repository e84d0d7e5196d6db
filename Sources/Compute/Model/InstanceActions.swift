import Foundation
import MartletCore
import SQLKit

/// The record of what was done to a server (`os-instance-actions`): one action per request, with
/// the events the conductor went through.
struct InstanceActions: Sendable {
    struct Event: Codable, Sendable {
        var event: String
        var startTime: Double
        var finishTime: Double?
        var result: String?
        var host: String?
        var details: String? = nil
    }

    /// Records an action with its open event; returns the action's ID.
    @discardableResult
    func start(_ action: String, server: String, requestID: String, userID: String, projectID: String, in db: any SQLDatabase) async throws -> String {
        let now = Date().timeIntervalSince1970
        let id = Identifier.uuid()
        let events = [Event(event: "compute_" + action, startTime: now, finishTime: nil, result: nil, host: nil)]
        try await db.raw("""
            INSERT INTO cmp_instance_actions (id, server_id, request_id, action, project_id, user_id, start_time, updated_at, message, events)
            VALUES (\(bind: id), \(bind: server), \(bind: requestID), \(bind: action), \(bind: projectID), \(bind: userID),
                    \(bind: now), \(bind: now), NULL, \(bind: try Self.encode(events)))
            """).run()
        return id
    }

    /// Closes the newest open event of the action `id`, or else of the server's latest action.
    func finish(server: String, action id: String? = nil, host: String?, error: String?, in db: any SQLDatabase) async throws {
        let query: SQLQueryString = id.map { "SELECT id, events FROM cmp_instance_actions WHERE id = \(bind: $0)" }
            ?? "SELECT id, events FROM cmp_instance_actions WHERE server_id = \(bind: server) ORDER BY start_time DESC LIMIT 1"
        guard let row = try await db.raw(query).first() else { return }
        var events = try JSONDecoder().decode([Event].self, from: Data(try row.decode(column: "events", as: String.self).utf8))
        guard let open = events.lastIndex(where: { $0.finishTime == nil }) else { return }
        let now = Date().timeIntervalSince1970
        events[open].finishTime = now
        events[open].result = error == nil ? "Success" : "Error"
        events[open].host = host
        events[open].details = error
        try await db.raw("""
            UPDATE cmp_instance_actions SET events = \(bind: try Self.encode(events)), updated_at = \(bind: now),
            message = \(bind: error.map { _ in "Error" }) WHERE id = \(bind: try row.decode(column: "id", as: String.self))
            """).run()
    }

    struct Action: Sendable {
        var serverID, requestID, action, projectID, userID: String
        var startTime, updatedAt: Double
        var message: String?
        var events: [Event]

        func json(_ v: Microversion, events showEvents: Bool, admin: Bool) -> JSON {
            var body: [String: JSON] = [
                "action": .string(action), "request_id": .string(requestID), "user_id": .string(userID),
                "project_id": .string(projectID), "start_time": .string(NovaTime.precise(startTime)),
                "message": JSON(message), "instance_uuid": .string(serverID),
            ]
            if v >= Microversion(2, 58) { body["updated_at"] = .string(NovaTime.precise(updatedAt)) }
            if showEvents {
                body["events"] = .array(events.map { e in
                    var event: [String: JSON] = [
                        "event": .string(e.event), "start_time": .string(NovaTime.precise(e.startTime)),
                        "finish_time": e.finishTime.map { .string(NovaTime.precise($0)) } ?? nil, "result": JSON(e.result),
                    ]
                    if admin { event["traceback"] = nil as JSON }
                    if v >= Microversion(2, 84) { event["details"] = JSON(e.details) }
                    if v >= Microversion(2, 62) {
                        if admin { event["host"] = JSON(e.host) }
                        event["hostId"] = .string(e.host.map { ServerView.hostID(project: projectID, host: $0) } ?? "")
                    }
                    return .object(event)
                })
            }
            return .object(body)
        }
    }

    func list(server: String, in db: any SQLDatabase) async throws -> [Action] {
        try await db.raw("SELECT * FROM cmp_instance_actions WHERE server_id = \(bind: server) ORDER BY start_time DESC").all().map { row in
            Action(serverID: try row.decode(column: "server_id", as: String.self), requestID: try row.decode(column: "request_id", as: String.self),
                   action: try row.decode(column: "action", as: String.self), projectID: try row.decode(column: "project_id", as: String.self),
                   userID: try row.decode(column: "user_id", as: String.self), startTime: try row.decode(column: "start_time", as: Double.self),
                   updatedAt: try row.decode(column: "updated_at", as: Double.self), message: try row.decode(column: "message", as: String?.self),
                   events: try JSONDecoder().decode([Event].self, from: Data(try row.decode(column: "events", as: String.self).utf8)))
        }
    }

    func delete(server: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_instance_actions WHERE server_id = \(bind: server)").run()
    }

    static func encode(_ events: [Event]) throws -> String { String(decoding: try JSONEncoder().encode(events), as: UTF8.self) }
}
