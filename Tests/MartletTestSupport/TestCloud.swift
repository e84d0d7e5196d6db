import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import Identity
import MartletCore
import MartletStore
import Prometheus
import ServiceLifecycle

/// A bootstrapped cloud on a fresh database — Identity plus whatever services a test adds —
/// served over real HTTP on loopback.
public struct TestCloud: Sendable {
    public static let adminPassword = "admin-secret"
    public let database: TestDatabase
    public let config: MartletConfig
    public let identity: IdentityService
    public let services: [any APIService]
    /// The services' reconcile loops, running for as long as the cloud lives.
    let loops: BackgroundLoops

    public static func make(_ backend: TestBackend = .sqlite, migrations: [Migration] = [], roles: [String] = [],
                            configure: (inout MartletConfig) -> Void = { _ in },
                            services: (Database, MartletConfig, IdentityService) throws -> [any APIService] = { _, _, _ in [] }) async throws -> TestCloud {
        let database = try await TestDatabase.make(backend)
        var config = MartletConfig()
        config.dataDir = database.dataDir.path
        config.bcryptCost = 4
        config.publicURL = "http://127.0.0.1:5000"
        configure(&config)
        do {
            try await database.database.migrate(IdentityService.migrations + migrations)
            let identity = try IdentityService(database: database.database, config: config)
            let extra = try services(database.database, config, identity)
            let entries = ([identity] + extra).map { (type: $0.catalogType, name: $0.catalogName, path: $0.catalogPath) }
            _ = try await identity.bootstrap(adminPassword: adminPassword, services: entries, roles: roles)
            return TestCloud(database: database, config: config, identity: identity, services: extra,
                             loops: BackgroundLoops(extra.flatMap(\.backgroundServices)))
        } catch {
            await database.close()  // a pool dropped open is a crash, which would hide the error
            throw error
        }
    }

    /// A second service instance over the same data, as after a restart.
    public func restarted() throws -> IdentityService { try IdentityService(database: database.database, config: config) }

    public func serve<T>(_ identity: IdentityService? = nil, _ body: @Sendable (Client) async throws -> T) async throws -> T {
        let service = identity ?? self.identity
        let store = database.database
        let router = APIRouter.make(services: [service] + services, validator: service.validator,
                                    fallbackFaults: service.faultFormat, metrics: PrometheusCollectorRegistry(),
                                    canWrite: { await store.canWrite(within: .seconds(2)) })
        return try await LiveHTTP.serve(router) { try await body(Client(http: $0)) }
    }

    /// Stops the services' loops, as a process that is killed stops them (a test then restarts one).
    public func stopLoops() { loops.stop() }

    public func close() async {
        loops.stop()
        await database.close()
    }
}

public struct Reply: Sendable {
    public let status: HTTPResponse.Status
    public let headers: HTTPFields
    public let body: JSON?
    public let bytes: [UInt8]

    public subscript(_ key: String) -> JSON? { body?[key] }

    public func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

public struct Client: Sendable {
    public let http: LiveHTTP

    @discardableResult
    public func call(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: JSON? = nil,
              raw: [UInt8]? = nil, headers extra: [String: String] = [:]) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authToken] = token }
        for (k, v) in extra { headers[HTTPField.Name(k)!] = v }
        let bytes = raw ?? json.map { $0.serialized() }
        let response = try await http.execute(uri: path, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) })
        let body = response.body.readableBytes > 0 ? try? JSON.parse(response.body.readableBytesView) : nil
        return Reply(status: response.status, headers: response.headers, body: body, bytes: Array(response.body.readableBytesView))
    }

    public static func passwordAuth(user: String, password: String, project: String? = "admin", domain: String = "Default") -> JSON {
        var auth: [String: JSON] = [
            "identity": ["methods": ["password"], "password": ["user": ["name": .string(user), "domain": ["name": .string(domain)], "password": .string(password)]]],
        ]
        if let project { auth["scope"] = ["project": ["name": .string(project), "domain": ["name": .string(domain)]]] }
        return ["auth": .object(auth)]
    }

    /// Issues a token; fails the test unless it is a 201 with X-Subject-Token.
    public func token(_ user: String = "admin", _ password: String = TestCloud.adminPassword, project: String? = "admin") async throws -> String {
        let reply = try await call(.post, "/identity/v3/auth/tokens", json: Self.passwordAuth(user: user, password: password, project: project))
        guard reply.status == .created, let token = reply.header("X-Subject-Token") else {
            throw TestFailure("token for \(user) failed: \(reply.status) \(reply.body?.text ?? "")")
        }
        return token
    }

    /// Creates a user with `role` on a new project; returns (user id, project id, project name).
    public func makeMember(admin: String, name: String = "u-" + Identifier.hex().prefix(8), password: String = "pw", role: String = "member") async throws -> (user: String, project: String, projectName: String) {
        let projectName = "p-" + Identifier.hex().prefix(8)
        let project = try await call(.post, "/identity/v3/projects", token: admin, json: ["project": ["name": .string(projectName)]])
        let user = try await call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": .string(name), "password": .string(password)]])
        guard let pid = project["project"]?["id"]?.stringValue, let uid = user["user"]?["id"]?.stringValue else {
            throw TestFailure("setup failed: \(project.body?.text ?? "") \(user.body?.text ?? "")")
        }
        let roles = try await call(.get, "/identity/v3/roles?name=\(role)", token: admin)
        guard case .array(let list)? = roles["roles"], let rid = list.first?["id"]?.stringValue else { throw TestFailure("no role \(role)") }
        let grant = try await call(.put, "/identity/v3/projects/\(pid)/users/\(uid)/roles/\(rid)", token: admin)
        guard grant.status == .noContent else { throw TestFailure("grant failed: \(grant.status)") }
        return (uid, pid, projectName)
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs services' background loops in a task of their own until stopped, as `martlet serve`'s
/// service group does (a test that restarts a service runs the new one's loops the same way).
public final class BackgroundLoops: Sendable {
    let task: Task<Void, Never>

    public init(_ services: [any Service]) {
        task = Task {
            await withDiscardingTaskGroup { group in
                for service in services { group.addTask { try? await service.run() } }
            }
        }
    }

    public func stop() { task.cancel() }

    deinit { task.cancel() }
}
