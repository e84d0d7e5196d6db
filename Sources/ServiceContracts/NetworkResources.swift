import MartletCore

/// Neutron's resources by collection name, in process, for the APIs that show them in another
/// service's words (Compute's `os-security-groups` and `os-networks` before 2.36). Faults are Neutron's.
public protocol NetworkResources: Sendable {
    func list(_ collection: String, as caller: NetworkCaller, matching: [String: String]) async throws -> [JSON]
    func show(_ collection: String, _ id: String, as caller: NetworkCaller) async throws -> JSON
    func create(_ collection: String, _ body: [String: JSON], as caller: NetworkCaller) async throws -> JSON
    func update(_ collection: String, _ id: String, _ body: [String: JSON], as caller: NetworkCaller) async throws -> JSON
    func delete(_ collection: String, _ id: String, as caller: NetworkCaller) async throws
}

/// Who asks, as Networking checks it.
public struct NetworkCaller: Sendable {
    public var isAdmin: Bool
    public var projectID: String
    public init(isAdmin: Bool, projectID: String) { self.isAdmin = isAdmin; self.projectID = projectID }
}

