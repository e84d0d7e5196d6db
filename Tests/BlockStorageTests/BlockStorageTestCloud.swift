@testable import BlockStorage
@testable import Compute
import DriverKit
import FileVolumeDriver
import Foundation
import Image
import MartletCore
import MartletStore
import MartletTestSupport
import Networking
import ObjectStorage

/// A cloud with Identity, Image, Networking, Compute (fake hypervisor) and Block Storage on a fresh database.
func volumeCloud(_ backend: TestBackend = .sqlite, driver: (MartletConfig, ImageService) throws -> any VolumeDriver = { _, _ in FakeVolumeDriver() },
                 configure: (inout MartletConfig) -> Void = { _ in }) async throws -> TestCloud {
    let cloud = try await TestCloud.make(backend, migrations: ImageService.migrations + NetworkService.migrations + ObjectStorageService.migrations
                                         + ComputeService.migrations + BlockStorageService.migrations,
                                         roles: ObjectStorageService.roles + ComputeService.roles, configure: configure) { db, config, identity in
        let image = try ImageService(database: db, config: config)
        let network = try NetworkService(database: db, config: config, backend: FakeNetworkBackend(config: config))
        let objects = try ObjectStorageService(database: db, config: config, credentials: identity)
        let volumes = BlockStorageService(database: db, config: config, driver: try driver(config, image), images: image, objects: objects, projects: identity)
        let compute = ComputeService(database: db, config: config, ports: network, images: image, hypervisor: FakeHypervisor(config: config),
                                     volumes: volumes)
        volumes.serverEvents.set(compute)
        return [compute, image, network, objects, volumes]
    }
    try await cloud.blockStorage.start()
    try await cloud.compute.start()
    return cloud
}

/// The file driver over real qemu-img, its images read from the data folder.
func fileVolumeDriver(_ config: MartletConfig, _ image: ImageService) throws -> any VolumeDriver {
    try FileVolumeDriver(folder: config.dataURL.appendingPathComponent("volumes").path,
                         images: FileVolumeDriverTests.FolderImages(folder: config.dataURL.path, inPlace: true))
}

extension TestCloud {
    var blockStorage: BlockStorageService { services.first { $0 is BlockStorageService } as! BlockStorageService }
    var compute: ComputeService { services.first { $0 is ComputeService } as! ComputeService }
    var objectStorage: ObjectStorageService { services.first { $0 is ObjectStorageService } as! ObjectStorageService }
}

extension Client {
    /// Polls a volume until its status is `status` (or it is gone, for `"deleted"`), for at most `seconds`.
    @discardableResult
    func waitForVolume(_ id: String, _ status: String, token: String, seconds: Double = 20) async throws -> Reply {
        try await waitFor("volumes", id, status, token: token, seconds: seconds)
    }

    /// Polls `/volume/v3/<kind>/<id>` until its status is `status` (or it is gone, for `"deleted"`).
    @discardableResult
    func waitFor(_ kind: String, _ id: String, _ status: String, token: String, seconds: Double) async throws -> Reply {
        let deadline = Date().addingTimeInterval(seconds)
        let noun = String(kind.dropLast())
        while true {
            let reply = try await call(.get, "/volume/v3/\(kind)/\(id)", token: token)
            if status == "deleted" && reply.status == .notFound { return reply }
            if reply[noun]?["status"]?.stringValue == status { return reply }
            if Date() > deadline { throw TestFailure("\(noun) \(id) is \(reply[noun]?["status"]?.stringValue ?? "\(reply.status)"), not \(status)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func makeVolume(_ token: String, size: Int = 1, extra: [String: JSON] = [:]) async throws -> String {
        var body: [String: JSON] = ["size": JSON(size)]
        body.merge(extra) { _, new in new }
        let reply = try await call(.post, "/volume/v3/volumes", token: token, json: ["volume": .object(body)])
        guard reply.status == .accepted, let id = reply["volume"]?["id"]?.stringValue else { throw TestFailure("create: \(reply.status) \(reply.body?.text ?? "")") }
        try await waitForVolume(id, "available", token: token)
        return id
    }
}
