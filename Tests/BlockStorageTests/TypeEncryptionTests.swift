@testable import BlockStorage
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// A volume type's encryption specs: an admin's to keep, shown as Cinder shows them; no volume of
/// an encrypted type is made, as there is no key manager for its key.
@Suite struct TypeEncryptionTests {
    @Test func encryptionSpecsAreKeptAndNoEncryptedVolumeIsMade() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "encrypter")
            let token = try await c.token("encrypter", "pw", project: member.projectName)
            let type = try #require(try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "luks"]])["volume_type"]?["id"]?.stringValue)
            let path = "/volume/v3/types/\(type)/encryption"
            #expect(try await c.call(.get, path, token: admin).body == [:])
            let specs: JSON = ["encryption": ["provider": "luks", "control_location": "front-end", "cipher": "aes-xts-plain64", "key_size": 256]]
            #expect(try await c.call(.post, path, token: token, json: specs).status == .forbidden)
            #expect(try await c.call(.post, path, token: admin, json: ["encryption": ["provider": "luks"]]).status == .badRequest)
            #expect(try await c.call(.post, path, token: admin, json: ["encryption": ["provider": "luks", "control_location": "elsewhere"]]).status == .badRequest)
            #expect(try await c.call(.post, "/volume/v3/types/\(Identifier.uuid())/encryption", token: admin, json: specs).status == .notFound)

            let made = try await c.call(.post, path, token: admin, json: specs)["encryption"]
            let encryptionID = try #require(made?["encryption_id"]?.stringValue)
            #expect(made?["volume_type_id"]?.stringValue == type && made?["key_size"] == 256 && made?["provider"] == "luks")
            #expect(try await c.call(.post, path, token: admin, json: specs).status == .badRequest, "a second create")
            let shown = try await c.call(.get, path, token: admin).body
            #expect(shown?["cipher"] == "aes-xts-plain64" && shown?["deleted"] == false && shown?["created_at"]?.stringValue != nil)
            #expect(try await c.call(.get, "\(path)/provider", token: admin).body == ["provider": "luks"])
            #expect(try await c.call(.get, "\(path)/nothing", token: admin).status == .notFound)

            let updated = try await c.call(.put, "\(path)/\(encryptionID)", token: admin, json: ["encryption": ["key_size": 512, "control_location": "back-end"]])
            #expect(updated["encryption"] == ["key_size": 512, "control_location": "back-end"])
            #expect(try await c.call(.get, path, token: admin).body?["key_size"] == 512)

            // No key manager: a volume of the type is refused, and so is a retype to it; nothing is left.
            let refused = try await c.call(.post, "/volume/v3/volumes", token: token, json: ["volume": ["size": 1, "volume_type": "luks"]])
            #expect(refused.status == .badRequest && refused["badRequest"]?["message"]?.stringValue?.contains("no key manager") == true)
            #expect(try await c.call(.get, "/volume/v3/volumes", token: token)["volumes"] == [])
            let plain = try await c.makeVolume(token)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(plain)/action", token: token, json: ["os-retype": ["new_type": "luks"]]).status == .badRequest)

            #expect(try await c.call(.delete, "\(path)/\(encryptionID)", token: admin).status == .accepted)
            #expect(try await c.call(.delete, "\(path)/\(encryptionID)", token: admin).status == .notFound)
            #expect(try await c.call(.get, path, token: admin).body == [:])
        }
    }
}
