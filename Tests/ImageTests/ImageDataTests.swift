import Crypto
import Foundation
@testable import Image
import MartletCore
import MartletTestSupport
import Testing

@Suite struct ImageDataTests {
    @Test(arguments: TestBackend.available)
    func uploadDownloadAndRanges(_ backend: TestBackend) async throws {
        let cloud = try await imageCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.createImage(admin)
            #expect(try await c.call(.get, "/image/v2/images/\(id)/file", token: admin).status == .noContent)
            let data = randomBytes(300_000)
            #expect(try await c.upload(admin, id, data, contentType: "text/plain").status == .unsupportedMediaType)
            #expect(try await c.upload(admin, id, data).status == .noContent)
            let image = try await c.call(.get, "/image/v2/images/\(id)", token: admin)
            #expect(image["status"] == "active")
            #expect(image["size"] == .int(300_000))
            let md5 = Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
            #expect(image["checksum"] == .string(md5))
            #expect(image["os_hash_algo"] == "sha512")
            #expect(image["os_hash_value"] == .string(SHA512.hash(data: data).map { String(format: "%02x", $0) }.joined()))
            // A second upload to an active image is refused and changes nothing.
            #expect(try await c.upload(admin, id, [1, 2, 3]).status == .conflict)

            let whole = try await c.call(.get, "/image/v2/images/\(id)/file", token: admin)
            #expect(whole.status == .ok)
            #expect(whole.bytes == data)
            #expect(whole.header("Content-MD5") == md5)
            let part = try await c.call(.get, "/image/v2/images/\(id)/file", token: admin, headers: ["Range": "bytes=100-199"])
            #expect(part.status == .partialContent)
            #expect(part.bytes == Array(data[100...199]))
            #expect(part.header("Content-Range") == "bytes 100-199/300000")
            let tail = try await c.call(.get, "/image/v2/images/\(id)/file", token: admin, headers: ["Range": "bytes=-10"])
            #expect(tail.bytes == Array(data.suffix(10)))
            #expect(try await c.call(.get, "/image/v2/images/\(id)/file", token: admin, headers: ["Range": "bytes=400000-"]).status == .rangeNotSatisfiable)

            let unformatted = try await c.createImage(admin, ["name": "bare"])
            #expect(try await c.upload(admin, unformatted, data).status == .badRequest)
        }
    }

    @Test func quotaStopsAnOversizeUploadAndKeepsNothing() async throws {
        let cloud = try await imageCloud { $0.imageSizeQuota = 100_000; $0.imageCountQuota = 2 }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.createImage(admin)
            let reply = try await c.upload(admin, id, randomBytes(150_000))
            #expect(reply.status == .contentTooLarge)
            #expect(try await c.call(.get, "/image/v2/images/\(id)", token: admin)["status"] == "queued")
            let files = try FileManager.default.contentsOfDirectory(atPath: cloud.database.dataDir.appendingPathComponent("images").path)
            #expect(files == ["staging"])
            #expect(try await c.upload(admin, id, randomBytes(90_000)).status == .noContent)
            _ = try await c.createImage(admin)
            #expect(try await c.call(.post, "/image/v2/images", token: admin, json: ["name": "third"]).status == .contentTooLarge)
            let usage = try await c.call(.get, "/image/v2/info/usage", token: admin)
            #expect(usage["usage"]?["image_size_total"] == ["limit": 100_000, "usage": 90_000])
            #expect(usage["usage"]?["image_count_total"]?["usage"] == 2)
        }
    }

    @Test func stageAndImport() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            #expect(try await c.call(.get, "/image/v2/info/import", token: admin)["import-methods"]?["value"] == ["glance-direct"])
            let id = try await c.createImage(admin)
            let data = randomBytes(5_000)
            #expect(try await c.upload(admin, id, data, path: "stage").status == .noContent)
            #expect(try await c.call(.get, "/image/v2/images/\(id)", token: admin)["status"] == "uploading")
            #expect(try await c.call(.post, "/image/v2/images/\(id)/import", token: admin, json: ["method": ["name": "web-download"]]).status == .badRequest)
            let imported = try await c.call(.post, "/image/v2/images/\(id)/import", token: admin, json: ["method": ["name": "glance-direct"]])
            #expect(imported.status == .accepted)
            #expect(try await c.call(.get, "/image/v2/images/\(id)", token: admin)["status"] == "active")
            #expect(try await c.call(.get, "/image/v2/images/\(id)/file", token: admin).bytes == data)
            let tasks = try await c.call(.get, "/image/v2/images/\(id)/tasks", token: admin)["tasks"]?.array ?? []
            #expect(tasks.count == 1 && tasks.first?["status"] == "success")
            #expect(tasks.first?["request_id"]?.stringValue == imported.header("x-openstack-request-id"))
        }
    }

    @Test func recoveryAfterACrash() async throws {
        let cloud = try await imageCloud()
        defer { Task { await cloud.close() } }
        let (stuck, orphanDir) = try await cloud.serve { c -> (String, String) in
            let admin = try await c.token()
            let stuck = try await c.createImage(admin)
            return (stuck, cloud.database.dataDir.appendingPathComponent("images").path)
        }
        // As if the server died mid-upload: the row says saving, a partial file and a stray temp file remain.
        try await cloud.database.database.transaction { db in
            try await db.raw("UPDATE image_images SET status = 'saving' WHERE id = \(bind: stuck)").run()
        }
        FileManager.default.createFile(atPath: orphanDir + "/\(stuck)", contents: Data([1, 2, 3]))
        FileManager.default.createFile(atPath: orphanDir + "/.tmp-crashed", contents: Data([4]))
        FileManager.default.createFile(atPath: orphanDir + "/00000000-0000-4000-8000-000000000000", contents: Data([5]))
        let result = try await cloud.image.recover()
        #expect(result.requeued == 1)
        #expect(result.orphansRemoved == 1)  // the stray image file; the partial one goes with the requeue
        #expect(try FileManager.default.contentsOfDirectory(atPath: orphanDir) == ["staging"])
        #expect(try await cloud.image.repo.image(stuck)?.status == "queued")
    }
}
