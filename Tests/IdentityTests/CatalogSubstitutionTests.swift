import Foundation
@testable import Identity
import MartletCore
import Testing

/// The byte-level marker substitution answers exactly as the Foundation calls it replaced.
@Suite struct CatalogSubstitutionTests {
    /// The plain Foundation version, kept here as the reference.
    static func reference(_ url: String, projectID: String?) -> String? {
        guard Catalog.markers.contains(where: url.contains) else { return url }
        guard let projectID else { return nil }
        var url = url
        for marker in Catalog.markers { url = url.replacingOccurrences(of: marker, with: projectID) }
        return url
    }

    static let urls = [
        "http://h:1/compute/v2.1", "http://h/v1/AUTH_$(project_id)s", "http://h/v1/AUTH_$(tenant_id)s/x",
        "http://h/%(project_id)s/%(tenant_id)s/$(project_id)s$(project_id)s", "http://h/$(project_id)", "http://h/(project_id)s",
        "http://h/$(PROJECT_ID)s", "http://h/$$(project_id)ss", "", "$(project_id)s", "http://hé/AUTH_$(project_id)s",
        "http://h/ü", "http://h/\r\n$(tenant_id)s",
    ]
    static let projects: [String?] = [nil, "0123abcd", "", "$(tenant_id)s", "é", "x%(project_id)sy"]

    @Test func matchesFoundation() {
        for url in Self.urls {
            #expect(Catalog.hasMarker(url) == Catalog.markers.contains(where: url.contains), "\(url)")
            for projectID in Self.projects {
                let catalog: JSON = [["id": "s", "endpoints": [["id": "e", "url": .string(url)], ["id": "f", "url": "http://plain"]]]]
                let expected: [JSON] = [Self.reference(url, projectID: projectID).map { ["id": "e", "url": .string($0)] }, ["id": "f", "url": "http://plain"]].compactMap { $0 }
                #expect(Catalog.substituted(catalog, projectID: projectID) == [["id": "s", "endpoints": .array(expected)]], "\(url) \(projectID ?? "nil")")
            }
        }
    }
}
