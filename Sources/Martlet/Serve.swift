import ArgumentParser
import ConsoleProxy
import Dashboard
import Foundation
import Hummingbird
import HummingbirdCore
import Identity
import Logging
import MartletCore
import MartletStore
import NIOCore
import Prometheus
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the all-in-one cloud: every API on one listener, S3 on a second, consoles on a third (bootstraps an empty data folder first).")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        // Every object write holds a blocking thread through its fsync: more threads than cores
        // let concurrent uploads sync side by side.
        NIOSingletons.blockingPoolThreadCountSuggestion = 16
        let context = try await Wiring.prepare(options)
        let logger = context.logger
        try? await context.identity.pruneRevocations(maxTokenLifetime: context.config.tokenLifetime)
        let recovered = try await context.image.recover()
        if recovered != (0, 0) {
            logger.notice("image store recovered", metadata: ["uploads_requeued": "\(recovered.requeued)", "orphans_removed": "\(recovered.orphansRemoved)"])
        }
        let objects = try await context.objectStorage.recover()
        if objects != (0, 0) {
            logger.notice("object store recovered", metadata: ["orphans_removed": "\(objects.orphansRemoved)", "objects_missing_data": "\(objects.missing)"])
        }
        try await context.network.converge()
        try await context.compute.start()
        try await context.blockStorage.start()

        let metrics = PrometheusCollectorRegistry()
        let database = context.database
        let router = APIRouter.make(services: context.services, validator: context.identity.validator,
                                    fallbackFaults: context.identity.faultFormat, metrics: metrics,
                                    canWrite: { await database.canWrite(within: .seconds(2)) })
        let config = context.config
        // The dashboard calls the API routes as they are now, before its own pages join the router.
        Dashboard(api: APIGateway(router.buildResponder(), logger: Logger(label: "martlet.dashboard")), publicURL: config.resolvedPublicURL)
            .addRoutes(to: router)
        // A client that stalls while sending a request is cut off; each listener holds a bounded number of connections.
        let http = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()],
                                                                idleTimeout: .seconds(Int64(config.requestReadTimeout))))
        func listener(_ port: Int) -> ApplicationConfiguration {
            .init(address: .hostname(config.host, port: port), serverName: "martlet",
                  availableConnectionsDelegate: MaximumAvailableConnections(config.maxConnections))
        }
        // Reconcile loops first: a group stops its services in reverse order, so they outlive the listeners.
        var services: [any Service] = context.services.flatMap(\.backgroundServices)
        services.append(Application(
            router: router, server: http, configuration: listener(config.port),
            onServerRunning: { _ in logger.info("serving", metadata: ["url": "\(config.resolvedPublicURL)", "identity": "\(config.resolvedPublicURL)/identity/v3"]) },
            logger: logger))
        if let s3Port = config.resolvedS3Port {
            let s3 = context.objectStorage.s3Router()
            services.append(Application(
                router: s3, server: http, configuration: listener(s3Port),
                onServerRunning: { _ in logger.info("serving S3", metadata: ["url": "\(config.resolvedS3URL ?? "")"]) },
                logger: logger))
        }
        if let consolePort = config.resolvedConsolePort {
            let compute = context.compute
            let proxy = ConsoleProxy(novncPath: config.novncPath, publicURL: config.resolvedConsoleURL, logger: logger) { token in
                await compute.openConsole(token: token)
            }
            services.append(proxy.application(listener(consolePort), onServerRunning: { _ in
                logger.info("serving consoles", metadata: ["url": "\(config.resolvedConsoleURL ?? "")"])
            }))
        }
        services.append(BackgroundTask { await context.objectStorage.reapExpiredObjects() })
        var entries = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        // Servers the hypervisor lost come back while the API already answers; the work ends, the server goes on.
        entries.append(.init(service: BackgroundTask { await context.compute.resumeServers() }, successTerminationBehavior: .ignore))
        let group = ServiceGroup(configuration: .init(services: entries, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await context.database.shutdown()
            throw error
        }
        await context.database.shutdown()
        logger.info("stopped")
    }
}

/// Work that runs beside the listeners (a loop for as long as the server runs, or a task that ends), cancelled on shutdown.
struct BackgroundTask: Service {
    let body: @Sendable () async -> Void
    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}
