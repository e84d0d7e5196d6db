import Hummingbird
import MartletCore

/// `/messages` (3.3; paging and sorting from 3.5): what failed after a request was accepted.
struct MessageRoutes {
    let service: BlockStorageService
    var store: BlockStorageStore { service.store }

    static let sortKeys: Set<String> = ["id", "event_id", "resource_type", "resource_uuid", "message_level", "created_at", "guaranteed_until", "request_id"]

    func register(_ r: PolicyRouter) {
        r.get("/v3/messages", rule: "message:get_all") { call in
            try call.require(3, 3)
            try ResourceFilters.check(call, "message")
            var messages = try await store.db.read { try await store.messages(projectID: call.isAdmin ? nil : call.auth.projectID, in: $0) }
            let q = call.queryItems
            for (field, value) in q {
                switch field {
                case "event_id": messages.removeAll { $0.eventID != value }
                case "resource_type": messages.removeAll { $0.resourceType != value }
                case "resource_uuid": messages.removeAll { $0.resourceID != value }
                case "message_level": messages.removeAll { $0.level != value }
                case "request_id": messages.removeAll { $0.requestID != value }
                default: break
                }
            }
            if call.requestedVersion >= Microversion(3, 5) {
                SortOrder.sort(&messages, by: try SortOrder.parse(call, allowed: Self.sortKeys), id: \.id) { m, key in
                    switch key {
                    case "id": .text(m.id)
                    case "event_id": .text(m.eventID)
                    case "resource_type": .text(m.resourceType)
                    case "resource_uuid": .text(m.resourceID ?? "")
                    case "message_level": .text(m.level)
                    case "request_id": .text(m.requestID ?? "")
                    case "guaranteed_until": .number(m.guaranteedUntil)
                    default: .number(m.createdAt)
                    }
                }
                let page = try Paging.page(messages, call, id: \.id,
                                           path: "\(service.publicURL)/volume\(call.request.uri.path.dropFirst("/volume".count))")
                var body: [String: JSON] = ["messages": .array(page.items.map(view))]
                if let next = page.next { body["messages_links"] = [["rel": "next", "href": .string(next)]] }
                return .json(.ok, .object(body))
            }
            return .json(.ok, ["messages": .array(messages.reversed().map(view))])
        }
        r.get("/v3/messages/:message_id", rule: "message:get", loadsTarget: true) { call in
            .json(.ok, ["message": view(try await visibleMessage(call))])
        }
        r.delete("/v3/messages/:message_id", rule: "message:delete", loadsTarget: true) { call in
            let message = try await visibleMessage(call)
            try await store.deleteMessage(message.id)
            return .empty(.noContent)
        }
    }

    private func visibleMessage(_ call: APICall) async throws -> UserMessage {
        try call.require(3, 3)
        let id = try call.param("message_id")
        guard let message = try await store.message(id), call.canSee(projectID: message.projectID) else {
            throw APIError.notFound("Message \(id) could not be found.")
        }
        try call.authorize(["project_id": message.projectID])
        return message
    }

    private func view(_ m: UserMessage) -> JSON {
        var b: [String: JSON] = [
            "id": .string(m.id), "event_id": .string(m.eventID), "user_message": .string(m.text), "message_level": .string(m.level),
            "resource_type": .string(m.resourceType), "created_at": Views.time(m.createdAt), "guaranteed_until": Views.time(m.guaranteedUntil),
            "request_id": .string(m.requestID ?? ""), "links": service.link("messages", m.id),
        ]
        if let resource = m.resourceID { b["resource_uuid"] = .string(resource) }
        return .object(b)
    }
}
