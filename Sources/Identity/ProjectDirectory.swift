import ServiceContracts

extension IdentityService: ProjectDirectory {
    public func projectExists(id: String) async throws -> Bool {
        guard let project = try await store.project(id) else { return false }
        return !project.isDomain
    }
}
