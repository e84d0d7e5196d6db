import Foundation
import Hummingbird
import HummingbirdTesting
import Identity
import MartletCore
import MartletTestSupport
@testable import ObjectStorage

/// A cloud with Identity and Object Storage, its files in the test's data folder.
func objectCloud(_ backend: TestBackend = .sqlite) async throws -> TestCloud {
    try await TestCloud.make(backend, migrations: ObjectStorageService.migrations, roles: ObjectStorageService.roles, services: { db, config, identity in
        [try ObjectStorageService(database: db, config: config, credentials: identity)]
    })
}

extension TestCloud {
    var objects: ObjectStorageService { services.first { $0 is ObjectStorageService } as! ObjectStorageService }

    /// The admin's token and account path (`/object-store/v1/AUTH_<project>`).
    func adminAccount(_ client: Client) async throws -> (token: String, path: String) {
        let token = try await client.token()
        let reply = try await client.call(.get, "/identity/v3/auth/tokens", token: token, headers: ["X-Subject-Token": token])
        let project = reply["token"]?["project"]?["id"]?.stringValue ?? ""
        return (token, "/object-store/v1/AUTH_\(project)")
    }
}

extension Reply {
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
