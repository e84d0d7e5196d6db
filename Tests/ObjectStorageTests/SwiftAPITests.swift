import Crypto
import Foundation
import MartletCore
import MartletTestSupport
import Testing
@testable import ObjectStorage

@Suite struct SwiftAPITests {
    @Test(arguments: TestBackend.available)
    func containersAndObjectsLiveAndDie(_ backend: TestBackend) async throws {
        let cloud = try await objectCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            let head = try await client.call(.head, account, token: token)
            #expect(head.status == .noContent)
            #expect(head.header("X-Account-Container-Count") == "0")
            #expect(head.header("X-Trans-Id")?.wholeMatch(of: /tx[0-9a-f]{21}-[0-9a-f]{10}/) != nil)

            #expect(try await client.call(.put, "\(account)/box", token: token).status == .created)
            #expect(try await client.call(.put, "\(account)/box", token: token).status == .accepted)
            let data = Array("hello object".utf8)
            let put = try await client.call(.put, "\(account)/box/a/../b%20c.txt", token: token, raw: data,
                                            headers: ["Content-Type": "text/plain", "X-Object-Meta-Color": "blue"])
            #expect(put.status == .created)
            #expect(put.header("ETag") == Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined())

            let get = try await client.call(.get, "\(account)/box/a/../b%20c.txt", token: token)
            #expect(get.status == .ok && get.bytes == data)
            #expect(get.header("X-Object-Meta-Color") == "blue" && get.header("Content-Type") == "text/plain")
            let listing = try await client.call(.get, "\(account)/box?format=json", token: token)
            #expect(listing["0"] == nil)
            #expect(listing.body?.array.first?["name"]?.stringValue == "a/../b c.txt")
            #expect(listing.body?.array.first?["bytes"] == .int(Int64(data.count)))

            let counts = try await client.call(.head, "\(account)/box", token: token)
            #expect(counts.header("X-Container-Object-Count") == "1" && counts.header("X-Container-Bytes-Used") == "\(data.count)")
            let busy = try await client.call(.delete, "\(account)/box", token: token)
            #expect(busy.status == .conflict)
            #expect(try await client.call(.delete, "\(account)/box/a/../b%20c.txt", token: token).status == .noContent)
            #expect(try await client.call(.get, "\(account)/box/a/../b%20c.txt", token: token).status == .notFound)
            #expect(try await client.call(.delete, "\(account)/box", token: token).status == .noContent)
            #expect(try await client.call(.get, "\(account)/box", token: token).status == .notFound)
        }
    }

    @Test func badInputGetsClearRefusals() async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            #expect(try await client.call(.put, "\(account)/c", token: token).status == .created)
            let mismatch = try await client.call(.put, "\(account)/c/o", token: token, raw: Array("abc".utf8), headers: ["ETag": "0" + String(repeating: "1", count: 31)])
            #expect(mismatch.status == .unprocessableContent)
            #expect(try await client.call(.get, "\(account)/c/o", token: token).status == .notFound)
            let longName = try await client.call(.put, "\(account)/c/o", token: token, raw: [], headers: ["X-Object-Meta-" + String(repeating: "k", count: 129): "v"])
            #expect(longName.status == .badRequest && longName.text.contains("Metadata name too long"))
            let limit = try await client.call(.get, "\(account)/c?limit=10001", token: token)
            #expect(limit.status == .preconditionFailed)
            let name = String(repeating: "n", count: 1025)
            #expect(try await client.call(.put, "\(account)/c/\(name)", token: token, raw: []).status == .badRequest)
            #expect(try await client.call(.put, "\(account)/nothere/o", token: token, raw: Array("x".utf8)).status == .notFound)
            let range = try await client.call(.put, "\(account)/c/r", token: token, raw: Array("0123456789".utf8))
            #expect(range.status == .created)
            let unsatisfiable = try await client.call(.get, "\(account)/c/r", token: token, headers: ["Range": "bytes=20-30"])
            #expect(unsatisfiable.status == .rangeNotSatisfiable && unsatisfiable.header("Content-Range") == "bytes */10")
            let part = try await client.call(.get, "\(account)/c/r", token: token, headers: ["Range": "bytes=-3"])
            #expect(part.status == .partialContent && part.text == "789")
            // No file is left behind by the refused upload.
            let files = try await cloud.objects.blobs.sweep()
            #expect(files.count == 1)
        }
    }

    @Test func aclsDecideForOtherProjectsAndAnonymousCallers() async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            let member = try await client.makeMember(admin: token, name: "reader-" + Identifier.hex().prefix(6))
            let other = try await client.token(try await userName(client, token, member.user), "pw", project: member.projectName)
            #expect(try await client.call(.put, "\(account)/shared", token: token).status == .created)
            #expect(try await client.call(.put, "\(account)/shared/o", token: token, raw: Array("x".utf8)).status == .created)
            #expect(try await client.call(.get, "\(account)/shared/o").status == .unauthorized)
            #expect(try await client.call(.get, "\(account)/shared/o", token: other).status == .forbidden)
            #expect(try await client.call(.head, account, token: other).status == .forbidden)

            let acl = try await client.call(.post, "\(account)/shared", token: token, headers: ["X-Container-Read": "\(member.project):\(member.user)"])
            #expect(acl.status == .noContent)
            #expect(try await client.call(.get, "\(account)/shared/o", token: other).status == .ok)
            #expect(try await client.call(.put, "\(account)/shared/p", token: other, raw: Array("y".utf8)).status == .forbidden)
            #expect(try await client.call(.get, "\(account)/shared/o").status == .unauthorized)

            #expect(try await client.call(.post, "\(account)/shared", token: token, headers: ["X-Container-Read": ".r:*"]).status == .noContent)
            #expect(try await client.call(.get, "\(account)/shared/o").status == .ok)
            #expect(try await client.call(.get, "\(account)/shared").status == .unauthorized)
            #expect(try await client.call(.post, "\(account)/shared", token: token, headers: ["X-Container-Write": "\(member.project):*"]).status == .noContent)
            #expect(try await client.call(.put, "\(account)/shared/p", token: other, raw: Array("y".utf8)).status == .created)
        }
    }

    private func userName(_ client: Client, _ admin: String, _ id: String) async throws -> String {
        try await client.call(.get, "/identity/v3/users/\(id)", token: admin)["user"]?["name"]?.stringValue ?? ""
    }

    @Test func largeObjectsCopiesAndTempURLs() async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            #expect(try await client.call(.put, "\(account)/seg", token: token).status == .created)
            var etags: [String] = []
            for (i, text) in ["aaa", "bbb", "cc"].enumerated() {
                let put = try await client.call(.put, "\(account)/seg/part/\(i)", token: token, raw: Array(text.utf8))
                etags.append(put.header("ETag") ?? "")
            }
            // Dynamic: everything under the prefix, in order.
            #expect(try await client.call(.put, "\(account)/seg/dlo", token: token, raw: [], headers: ["X-Object-Manifest": "seg/part/"]).status == .created)
            let dlo = try await client.call(.get, "\(account)/seg/dlo", token: token)
            #expect(dlo.text == "aaabbbcc")
            let dloETag = Insecure.MD5.hash(data: Data(etags.joined().utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(dlo.header("ETag") == "\"\(dloETag)\"")

            // Static: the listed segments, checked on the way in.
            let manifest: JSON = .array(etags.enumerated().map { ["path": .string("/seg/part/\($0.offset)"), "etag": .string($0.element)] })
            let slo = try await client.call(.put, "\(account)/seg/slo?multipart-manifest=put", token: token, raw: manifest.serialized())
            #expect(slo.status == .created)
            let sloETag = Insecure.MD5.hash(data: Data(etags.joined().utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(slo.header("ETag") == "\"\(sloETag)\"")
            let sloGet = try await client.call(.get, "\(account)/seg/slo", token: token, headers: ["Range": "bytes=2-4"])
            #expect(sloGet.status == .partialContent && sloGet.text == "abb")
            #expect(sloGet.header("X-Static-Large-Object") == "True")
            let wrong: JSON = [["path": "/seg/part/0", "etag": "ffffffffffffffffffffffffffffffff"]]
            let refused = try await client.call(.put, "\(account)/seg/bad?multipart-manifest=put", token: token, raw: wrong.serialized())
            #expect(refused.status == .badRequest && refused.text.contains("Etag Mismatch"))

            // Copy flattens a large object into a plain one.
            let copy = try await client.call(.put, "\(account)/seg/flat", token: token, raw: [], headers: ["X-Copy-From": "seg/slo"])
            #expect(copy.status == .created && copy.header("X-Copied-From") == "seg/slo")
            #expect(try await client.call(.get, "\(account)/seg/flat", token: token).text == "aaabbbcc")

            // A signed URL: valid for its method and time only, whatever token comes with it.
            #expect(try await client.call(.post, account, token: token, headers: ["X-Account-Meta-Temp-URL-Key": "k3y"]).status == .noContent)
            let expires = Int(Date().timeIntervalSince1970) + 60
            let path = "\(account)/seg/flat"
            let signature = HMAC<SHA256>.authenticationCode(for: Data("GET\n\(expires)\n\(path)".utf8), using: SymmetricKey(data: Data("k3y".utf8)))
                .map { String(format: "%02x", $0) }.joined()
            let signed = try await client.call(.get, "\(path)?temp_url_sig=\(signature)&temp_url_expires=\(expires)")
            #expect(signed.status == .ok && signed.text == "aaabbbcc")
            #expect(signed.header("Content-Disposition")?.hasPrefix("attachment; filename=\"flat\"") == true)
            #expect(try await client.call(.put, "\(path)?temp_url_sig=\(signature)&temp_url_expires=\(expires)", raw: []).status == .unauthorized)
            #expect(try await client.call(.get, "\(path)?temp_url_sig=\(signature)&temp_url_expires=\(expires - 120)", token: token).status == .unauthorized)

            // Deleting the manifest with its segments.
            let gone = try await client.call(.delete, "\(account)/seg/slo?multipart-manifest=delete", token: token)
            #expect(gone.status == .ok && gone.text.contains("Number Deleted: 4"))
        }
    }

    @Test func quotasVersionsAndBulkDelete() async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            #expect(try await client.call(.put, "\(account)/q", token: token, headers: ["X-Container-Meta-Quota-Bytes": "5"]).status == .created)
            #expect(try await client.call(.put, "\(account)/q/a", token: token, raw: Array("1234".utf8)).status == .created)
            let over = try await client.call(.put, "\(account)/q/b", token: token, raw: Array("12".utf8))
            #expect(over.status == .contentTooLarge)
            #expect(try await client.call(.head, "\(account)/q", token: token).header("X-Container-Bytes-Used") == "4")

            #expect(try await client.call(.put, "\(account)/old", token: token).status == .created)
            #expect(try await client.call(.put, "\(account)/v", token: token, headers: ["X-Versions-Location": "old"]).status == .created)
            #expect(try await client.call(.put, "\(account)/v/o", token: token, raw: Array("one".utf8)).status == .created)
            #expect(try await client.call(.put, "\(account)/v/o", token: token, raw: Array("two".utf8)).status == .created)
            #expect(try await client.call(.head, "\(account)/old", token: token).header("X-Container-Object-Count") == "1")
            #expect(try await client.call(.delete, "\(account)/v/o", token: token).status == .noContent)
            #expect(try await client.call(.get, "\(account)/v/o", token: token).text == "one")

            let bulk = try await client.call(.post, "\(account)?bulk-delete", token: token, raw: Array("q/a\nq\nq/missing\n".utf8),
                                             headers: ["Content-Type": "text/plain", "Accept": "application/json"])
            #expect(bulk.status == .ok)
            #expect(bulk["Number Deleted"] == .int(2) && bulk["Number Not Found"] == .int(1))
        }
    }

    @Test func capabilitiesAndLegacyAuthNeedNoToken() async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let info = try await client.call(.get, "/info")
            #expect(info.status == .ok && info["slo"] != nil && info["swift"]?["max_meta_count"] == .int(90))
            #expect(try await client.call(.get, "/object-store/info").status == .ok)
            let denied = try await client.call(.get, "/object-store/auth/v1.0", headers: ["X-Auth-User": "admin:admin", "X-Auth-Key": "wrong"])
            #expect(denied.status == .unauthorized)
            let auth = try await client.call(.get, "/object-store/auth/v1.0", headers: ["X-Auth-User": "admin:admin", "X-Auth-Key": TestCloud.adminPassword])
            #expect(auth.status == .ok)
            let storage = try #require(auth.header("X-Storage-Url"))
            let path = try #require(URLComponents(string: storage)?.path)
            #expect(try await client.call(.head, path, token: auth.header("X-Auth-Token")).status == .noContent)
        }
    }

    @Test func restartRemovesOrphanFilesAndKeepsObjects() async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            #expect(try await client.call(.put, "\(account)/keep", token: token).status == .created)
            #expect(try await client.call(.put, "\(account)/keep/o", token: token, raw: Array("kept".utf8)).status == .created)
        }
        // A crash mid-write leaves a temporary file; one after the rename leaves a file no row names.
        let root = URL(fileURLWithPath: cloud.config.dataDir).appendingPathComponent("objects")
        FileManager.default.createFile(atPath: root.appendingPathComponent("tmp/half").path, contents: Data("x".utf8))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("ab"), withIntermediateDirectories: true)
        let orphan = root.appendingPathComponent("ab/ab" + String(repeating: "0", count: 30)).path
        FileManager.default.createFile(atPath: orphan, contents: Data("y".utf8))
        let recovered = try await cloud.objects.recover()
        #expect(recovered.orphansRemoved == 1 && recovered.missing == 0)
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("tmp/half").path))
        #expect(!FileManager.default.fileExists(atPath: orphan))
        try await cloud.serve { client in
            let (token, account) = try await cloud.adminAccount(client)
            #expect(try await client.call(.get, "\(account)/keep/o", token: token).text == "kept")
        }
    }
}
