@testable import Compute
import DriverKit
import Foundation
import Image
import MartletCore
import MartletStore
import MartletTestSupport
import Networking

/// A cloud with Identity, Image, Networking and Compute (fake hypervisor) on a fresh database.
func computeCloud(_ backend: TestBackend = .sqlite, policyOverrides: [String: PolicyRule] = [:],
                  configure: (inout MartletConfig) -> Void = { _ in }) async throws -> TestCloud {
    let cloud = try await TestCloud.make(backend, migrations: ImageService.migrations + NetworkService.migrations + ComputeService.migrations,
                                         roles: ComputeService.roles, configure: configure) { db, config, _ in
        let image = try ImageService(database: db, config: config)
        let network = try NetworkService(database: db, config: config, backend: FakeNetworkBackend(config: config))
        return [ComputeService(database: db, config: config, ports: network, images: image, hypervisor: FakeHypervisor(config: config),
                               policyOverrides: policyOverrides), image, network]
    }
    try await cloud.compute.start()
    await cloud.compute.resumeServers()
    return cloud
}

extension TestCloud {
    var compute: ComputeService { services.first { $0 is ComputeService } as! ComputeService }

    /// Another Compute over the same database and network, as after a restart. The network's data
    /// plane, stopped with the first Compute's loops, is not restarted: boots do not wait for it.
    func restartedCompute(configure: (inout MartletConfig) -> Void = { _ in }) -> ComputeService {
        var config = self.config
        config.vifPluggingTimeout = 0
        configure(&config)
        let network = services.first { $0 is NetworkService } as! NetworkService
        let image = services.first { $0 is ImageService } as! ImageService
        return ComputeService(database: database.database, config: config, ports: network, images: image, hypervisor: FakeHypervisor(config: config))
    }
}
