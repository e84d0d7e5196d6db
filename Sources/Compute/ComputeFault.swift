import MartletCore

/// The failures Compute names, worded as Nova words them.
enum ComputeFault {
    static func serverNotFound(_ id: String) -> APIError { .notFound("Instance \(id) could not be found.") }
    static func flavorNotFound(_ id: String) -> APIError { .notFound("Flavor \(id) could not be found.") }
    static func keypairNotFound(_ name: String, user: String) -> APIError {
        .notFound("Keypair \(name) not found for user \(user)")
    }

    /// A `limit` that is not a non-negative integer (Nova's `get_pagination_params` wording).
    static func invalidLimit(_ raw: String) -> APIError { .badRequest("limit param must be an integer") }
    /// An unknown `marker` on servers, flavors, hypervisors and the image proxy.
    static func markerNotFound(_ marker: String) -> APIError { .badRequest("marker [\(marker)] not found") }
    /// An unknown `marker` on key pairs, migrations and instance actions (Nova's `MarkerNotFound`).
    static func markerCouldNotBeFound(_ marker: String) -> APIError { .badRequest("Marker \(marker) could not be found.") }

    /// 409 for an action the server's state does not allow.
    static func invalidState(_ server: Server, action: String) -> APIError {
        if let task = server.taskState {
            return .conflict("Cannot '\(action)' instance \(server.id) while it is in task_state \(task.rawValue)")
        }
        return .conflict("Cannot '\(action)' instance \(server.id) while it is in vm_state \(server.vmState.rawValue)")
    }

    static func locked(_ server: Server) -> APIError {
        .conflict("Instance \(server.id) is locked")
    }

    static func quotaExceeded(_ resource: String, requested: Int, used: Int, allowed: Int) -> APIError {
        .forbidden("Quota exceeded for \(resource): Requested \(requested), but already used \(used) of \(allowed) \(resource)")
    }
}
