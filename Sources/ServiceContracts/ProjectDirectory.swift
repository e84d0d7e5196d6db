/// What other services ask Identity about projects, in process (Cinder asks Keystone the same).
public protocol ProjectDirectory: Sendable {
    /// Whether a project (not a domain) with this ID exists.
    func projectExists(id: String) async throws -> Bool
}
