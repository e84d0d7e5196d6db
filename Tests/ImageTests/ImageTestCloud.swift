import Foundation
import Hummingbird
import HTTPTypes
@testable import Image
import MartletCore
import MartletTestSupport

/// A cloud with Identity and Image.
func imageCloud(_ backend: TestBackend = .sqlite, configure: (inout MartletConfig) -> Void = { _ in }) async throws -> TestCloud {
    try await TestCloud.make(backend, migrations: ImageService.migrations, configure: configure) { db, config, _ in
        [try ImageService(database: db, config: config)]
    }
}

extension TestCloud {
    var image: ImageService { services.first { $0 is ImageService } as! ImageService }
}

extension Client {
    /// Creates an image; returns its ID.
    func createImage(_ token: String, _ body: JSON = ["name": "img", "disk_format": "raw", "container_format": "bare"]) async throws -> String {
        let reply = try await call(.post, "/image/v2/images", token: token, json: body)
        guard reply.status == .created, let id = reply["id"]?.stringValue else { throw TestFailure("create failed: \(reply.status) \(String(decoding: reply.bytes, as: UTF8.self))") }
        return id
    }

    func upload(_ token: String, _ id: String, _ bytes: [UInt8], path: String = "file", contentType: String = "application/octet-stream") async throws -> Reply {
        try await call(.put, "/image/v2/images/\(id)/\(path)", token: token, raw: bytes, headers: ["Content-Type": contentType])
    }

    func patch(_ token: String, _ id: String, _ ops: JSON) async throws -> Reply {
        try await call(.patch, "/image/v2/images/\(id)", token: token, json: ops,
                       headers: ["Content-Type": "application/openstack-images-v2.1-json-patch"])
    }
}

func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }
