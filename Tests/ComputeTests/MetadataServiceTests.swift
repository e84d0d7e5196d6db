@testable import Compute
import Crypto
import Foundation
import MartletCore
import MartletTestSupport
import Testing

@Suite struct MetadataServiceTests {
    @Test func aSignedProxyRequestGetsTheServersOwnMetadata() async throws {
        let cloud = try await computeCloud { $0.metadataProxySecret = "s3cret" }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let userData = Data("#cloud-config\nhostname: x\n".utf8).base64EncodedString()
            let id = try #require(try await c.boot(admin, name: "Web Server 1", image: image, network: network,
                                                   extra: ["user_data": .string(userData), "metadata": ["role": "web"]])["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let signature = HMAC<SHA256>.authenticationCode(for: Data(id.utf8), using: SymmetricKey(data: Data("s3cret".utf8)))
                .map { String(format: "%02x", $0) }.joined()
            let signed = ["X-Instance-ID": id, "X-Instance-ID-Signature": signature]
            let meta = try await c.call(.get, "/openstack/latest/meta_data.json", headers: signed)
            #expect(meta["uuid"]?.stringValue == id && meta["hostname"] == "web-server-1" && meta["meta"]?["role"] == "web")
            let data = try await c.call(.get, "/openstack/latest/user_data", headers: signed)
            #expect(String(decoding: data.bytes, as: UTF8.self) == "#cloud-config\nhostname: x\n")
            let networkData = try await c.call(.get, "/openstack/2018-08-27/network_data.json", headers: signed)
            #expect(networkData["links"]?.array.count == 1)
            let ec2 = try await c.call(.get, "/latest/meta-data/instance-type", headers: signed)
            #expect(String(decoding: ec2.bytes, as: UTF8.self) == "m1.nano")
            let forged = try await c.call(.get, "/openstack/latest/meta_data.json", headers: ["X-Instance-ID": id, "X-Instance-ID-Signature": "00"])
            #expect(forged.status == .forbidden)
            let anonymous = try await c.call(.get, "/openstack/latest/meta_data.json")
            #expect(anonymous.status == .notFound, "loopback is no server's address")

            // The guest's password: posted once (at most 256 bytes), read and cleared by its owner.
            let password = "/openstack/2013-10-17/password"
            #expect(try await c.call(.post, password, raw: Array(String(repeating: "x", count: 257).utf8), headers: signed).status == .badRequest)
            #expect(try await c.call(.post, password, raw: Array("s3cr3t-pw".utf8), headers: signed).status == .ok)
            #expect(try await c.call(.post, password, raw: Array("again".utf8), headers: signed).status == .conflict)
            let stored = try await c.call(.get, password, headers: signed)
            #expect(String(decoding: stored.bytes, as: UTF8.self) == "s3cr3t-pw", "\(stored.status) \(String(decoding: stored.bytes, as: UTF8.self))")
            #expect(try await c.call(.get, "/compute/v2.1/servers/\(id)/os-server-password", token: admin)["password"] == "s3cr3t-pw")
            #expect(try await c.call(.delete, "/compute/v2.1/servers/\(id)/os-server-password", token: admin).status == .noContent)
            #expect(try await c.call(.get, "/compute/v2.1/servers/\(id)/os-server-password", token: admin)["password"] == "")
        }
    }
}
