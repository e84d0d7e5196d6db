import ArgumentParser
import Foundation
import Hummingbird
import Identity
import Logging
import MartletCore
import MartletStore
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the all-in-one cloud: every API on one listener (bootstraps an empty data folder first).")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let context = try await Wiring.prepare(options)
        let logger = context.logger
        try? await context.identity.pruneRevocations(maxTokenLifetime: context.config.tokenLifetime)
        let recovered = try await context.image.recover()
        if recovered != (0, 0) {
            logger.notice("image store recovered", metadata: ["uploads_requeued": "\(recovered.requeued)", "orphans_removed": "\(recovered.orphansRemoved)"])
        }
        try await context.network.converge()

        let router = APIRouter.make(services: context.services, validator: context.identity.validator,
                                    fallbackFaults: context.identity.faultFormat, metrics: PrometheusCollectorRegistry())
        let config = context.config
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "martlet"),
            onServerRunning: { _ in logger.info("serving", metadata: ["url": "\(config.resolvedPublicURL)", "identity": "\(config.resolvedPublicURL)/identity/v3"]) },
            logger: logger)
        try await app.runService()
        await context.database.shutdown()
        logger.info("stopped")
    }
}
