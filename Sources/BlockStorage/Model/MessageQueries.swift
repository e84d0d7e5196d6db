import MartletCore
import SQLKit

/// The queries on user messages.
extension BlockStorageStore {
    func messages(projectID: String?, in db: any SQLDatabase) async throws -> [UserMessage] {
        let query: SQLQueryString = projectID.map { "SELECT doc FROM blk_messages WHERE project_id = \(bind: $0) ORDER BY created_at, id" }
            ?? "SELECT doc FROM blk_messages ORDER BY created_at, id"
        return try decode(UserMessage.self, try await db.raw(query).all())
    }

    func message(_ id: String) async throws -> UserMessage? {
        try await db.read { db in try decode(UserMessage.self, try await db.raw("SELECT doc FROM blk_messages WHERE id = \(bind: id)").all()).first }
    }

    func insert(_ m: UserMessage, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO blk_messages (id, project_id, created_at, doc) VALUES (\(bind: m.id), \(bind: m.projectID), \(bind: m.createdAt), \(bind: try encode(m)))
            """).run()
    }

    func deleteMessage(_ id: String) async throws {
        try await db.transaction { db in try await db.raw("DELETE FROM blk_messages WHERE id = \(bind: id)").run() }
    }

    /// Records a message for the project about the resource; a failure to record is only logged by the caller.
    func report(_ event: UserMessage.Event, projectID: String, resourceID: String?) async throws {
        let now = Self.now()
        let message = UserMessage(id: Identifier.uuid(), projectID: projectID, requestID: "req-" + Identifier.uuid(), resourceType: event.resourceType,
                                  resourceID: resourceID, eventID: event.id, text: event.text, createdAt: now,
                                  guaranteedUntil: now + UserMessage.lifetime)
        try await db.transaction { try await insert(message, in: $0) }
    }
}
