@testable import BlockStorage
import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// Cinder's unmanage and manage existing: Block Storage forgets a volume and the backend keeps it,
/// listed as manageable, until a new volume record takes it over.
@Suite struct ManageTests {
    static func at(_ version: String) -> [String: String] { VolumeMicroversionTests.at(version) }

    @Test func anUnmanagedVolumeIsListedAndManagedAgain() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "manager")
            let token = try await c.token("manager", "pw", project: member.projectName)
            let original = try await c.makeVolume(admin, size: 2)
            let host = try #require(try await c.call(.get, "/volume/v3/volumes/\(original)", token: admin)["volume"]?["os-vol-host-attr:host"]?.stringValue)
            let unmanage: JSON = ["os-unmanage": nil]
            #expect(try await c.call(.post, "/volume/v3/volumes/\(original)/action", token: token, json: unmanage).status == .notFound)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(original)/action", token: admin, json: unmanage).status == .accepted)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(original)", token: admin).status == .notFound)
            let driver = try #require(cloud.blockStorage.driver as? FakeVolumeDriver)
            #expect(driver.volume(original)?.sizeGB == 2, "the backend keeps an unmanaged volume")

            // The backend's volumes, those Block Storage does not know safe to manage.
            let listPath = "/volume/v3/manageable_volumes/detail?host=\(host.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            #expect(try await c.call(.get, listPath, token: admin, headers: Self.at("3.7")).status == .notFound)
            #expect(try await c.call(.get, listPath, token: token, headers: Self.at("3.8")).status == .forbidden)
            #expect(try await c.call(.get, "/volume/v3/manageable_volumes", token: admin, headers: Self.at("3.8")).status == .badRequest)
            #expect(try await c.call(.get, "/volume/v3/manageable_volumes?host=elsewhere@lvm", token: admin, headers: Self.at("3.8")).status == .notFound)
            let listed = try await c.call(.get, listPath, token: admin, headers: Self.at("3.8"))["manageable-volumes"]?.array ?? []
            let entry = listed.first { $0["reference"]?["source-name"]?.stringValue == "volume-\(original)" }
            #expect(entry?["safe_to_manage"] == true && entry?["size"] == 2 && entry?["cinder_id"] == .null)

            func manage(_ body: [String: JSON], token: String) async throws -> Reply {
                try await c.call(.post, "/volume/v3/os-volume-manage", token: token, json: ["volume": .object(body)])
            }
            let ref: JSON = ["source-name": .string("volume-\(original)")]
            #expect(try await manage(["host": .string(host), "ref": ref], token: token).status == .forbidden)
            #expect(try await manage(["host": "elsewhere@lvm", "ref": ref], token: admin).status == .badRequest)
            #expect(try await manage(["host": .string(host), "cluster": "c", "ref": ref], token: admin).status == .badRequest)
            #expect(try await manage(["host": .string(host)], token: admin).status == .badRequest)
            #expect(try await manage(["host": .string(host), "ref": ["source-id": "x"]], token: admin).status == .badRequest)
            #expect(try await manage(["host": .string(host), "ref": ["source-name": "volume-nothing"]], token: admin).status == .badRequest)
            #expect(try await manage(["host": .string(host), "ref": ref, "volume_type": "nonesuch"], token: admin).status == .badRequest)
            #expect(try await manage(["host": .string(host), "ref": ref, "surprise": 1], token: admin).status == .badRequest)

            let made = try await manage(["host": .string(host), "ref": ref, "name": "taken-over", "volume_type": "__DEFAULT__", "bootable": true], token: admin)
            #expect(made.status == .accepted, "\(made.body?.text ?? "")")
            let id = try #require(made["volume"]?["id"]?.stringValue)
            let shown = try await c.waitForVolume(id, "available", token: admin)["volume"]
            #expect(id != original && shown?["size"] == 2 && shown?["name"] == "taken-over" && shown?["bootable"] == "true")
            #expect(driver.volume(id)?.sizeGB == 2 && driver.volume(original) == nil)
            // Taken: the same name is no longer there, and the new volume is not safe to manage again.
            #expect(try await manage(["host": .string(host), "ref": ref], token: admin).status == .badRequest)
            let again = try await c.call(.get, listPath, token: admin, headers: Self.at("3.8"))["manageable-volumes"]?.array ?? []
            #expect(again.first { $0["cinder_id"]?.stringValue == id }?["safe_to_manage"] == false)

            // An attached volume is not unmanaged.
            let attachment = try await c.call(.post, "/volume/v3/attachments", token: admin, json: ["attachment": [
                "volume_uuid": .string(id), "instance_uuid": .string(Identifier.uuid())]], headers: Self.at("3.27"))
            #expect(attachment.status == .ok)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(id)/action", token: admin, json: unmanage).status == .badRequest)
        }
    }
}
