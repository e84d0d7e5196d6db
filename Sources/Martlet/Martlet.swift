import ArgumentParser
import Foundation
import Identity
import Logging
import MartletCore
import MartletStore
import Prometheus

@main
struct Martlet: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "martlet",
        abstract: "An OpenStack-compatible cloud in one binary.",
        discussion: """
            Settings come from, in rising precedence: built-in defaults, a TOML file (--config, \
            else <data-dir>/martlet.toml when present), MARTLET_<SETTING> environment variables \
            (MARTLET_PORT, MARTLET_DATA_DIR, …), then these flags.
            """,
        subcommands: [Serve.self, Admin.self, Version.self])
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Martlet's version.")
    func run() { print("martlet \(Martlet.version)") }
}

struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate on a cloud's data folder and database.",
        subcommands: [Database.self, Bootstrap.self, Keys.self, Routes.self])

    struct Database: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "db", abstract: "Database maintenance.", subcommands: [Upgrade.self])
    }

    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let context = try await Wiring.open(options)
            let applied = try await context.database.migrate(Wiring.migrations)
            print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
            await context.database.shutdown()
        }
    }

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the Default domain, the admin project, user and roles, the region and the catalog (idempotent).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let context = try await Wiring.prepare(options)
            await context.database.shutdown()
        }
    }

    struct Routes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every route a policy guards: method, path and rule (for audits and the fuzz job).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let context = try await Wiring.open(options)
            _ = APIRouter.make(services: context.services, validator: context.identity.validator,
                               fallbackFaults: context.identity.faultFormat, metrics: PrometheusCollectorRegistry())
            for service in context.services {
                for route in service.routes {
                    let path = route.path.hasPrefix("/") ? route.path : "/" + route.path
                    print("\(route.method.rawValue) /\(service.pathPrefix)\(path) \(route.rule ?? "-")")
                }
            }
            await context.database.shutdown()
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Token key management.", subcommands: [Rotate.self])
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new primary token key; tokens sealed with the retired keys stay valid until they expire or the key ages out.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let config = try options.load()
            let id = try IdentityService.rotateKeys(config: config)
            print("token key \(id) is now primary")
        }
    }
}
