import Foundation
import MartletCore
import SQLKit

/// Who is asking, as the Network service's rules need it.
struct Caller: Sendable {
    let isAdmin: Bool
    /// The token's project; "" when the token has none.
    let projectID: String

    init(_ auth: AuthContext?) {
        isAdmin = auth?.hasRole("admin") ?? false
        projectID = auth?.projectID ?? ""
    }

    init(isAdmin: Bool, projectID: String) {
        self.isAdmin = isAdmin
        self.projectID = projectID
    }

    func owns(_ doc: Doc) -> Bool { isAdmin || doc["project_id"]?.stringValue == projectID }

    /// What this caller sees of a resource: admins everything, others without the private attributes.
    func view(_ doc: Doc, _ table: ResourceTable) -> Doc {
        isAdmin ? doc : doc.filter { !table.privateAttributes.contains($0.key) }
    }
}

/// One write transaction of the Network service: the database, the caller and the clock, and the
/// resources it touched so the data plane can be told once the transaction commits.
final class Change {
    let db: any SQLDatabase
    let service: NetworkService
    let caller: Caller
    let now: String
    private(set) var touched: [DataPlaneEvent] = []

    init(db: any SQLDatabase, service: NetworkService, caller: Caller) {
        self.db = db
        self.service = service
        self.caller = caller
        self.now = Timestamp.iso(Date())
    }

    var store: NetworkStore { service.store }

    func note(_ event: DataPlaneEvent) {
        if !touched.contains(event) { touched.append(event) }
    }

    func get(_ table: ResourceTable, _ id: String) async throws -> Doc? { try await store.get(table, id, forUpdate: true, in: db) }

    /// The resource, or Neutron's 404 for it.
    func require(_ table: ResourceTable, _ id: String) async throws -> Doc {
        guard let doc = try await get(table, id) else { throw NetFault.notFound(table, id) }
        return doc
    }

    func rows(_ table: ResourceTable, _ condition: SQLQueryString) async throws -> [Doc] {
        try await store.rows(table, where: condition, forUpdate: true, in: db)
    }

    @discardableResult
    func insert(_ table: ResourceTable, _ doc: Doc) async throws -> Doc { try await store.insert(table, doc, now: now, in: db) }

    @discardableResult
    func update(_ table: ResourceTable, _ doc: Doc) async throws -> Doc { try await store.update(table, doc, now: now, in: db) }

    func delete(_ table: ResourceTable, _ id: String) async throws { try await store.delete(table, id, in: db) }

    /// The project a new resource belongs to: the caller's, or for admins any named in the body.
    func owner(_ body: Body) throws -> String {
        let named = try body.string("project_id") ?? body.string("tenant_id")
        if let tenant = try body.string("tenant_id"), let project = try body.string("project_id"), tenant != project {
            throw NetFault.badRequest("'project_id' and 'tenant_id' do not match")
        }
        guard let named, named != caller.projectID else { return caller.projectID }
        guard caller.isAdmin else { throw NetFault.badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges") }
        return named
    }

    /// Refuses a new resource that would take the project over its quota.
    func checkQuota(_ resource: String, project: String, table: ResourceTable, adding: Int = 1) async throws {
        try await store.lock("quota:\(project)", in: db)
        let limit = try await service.quotas.limit(resource, project: project, in: db)
        guard limit >= 0 else { return }
        let used = try await store.count(table, where: "project_id = \(bind: project)", in: db)
        if used + adding > limit { throw NetFault.overQuota(resource) }
    }
}

/// What the data plane is told after a transaction commits.
enum DataPlaneEvent: Equatable, Sendable {
    case port(String)
    case portDeleted(String)
    case network(String)
    case networkDeleted(String)
    case router(String)
    case routerDeleted(String)
    case securityGroup(String)

    /// What the data plane reconciles: the object, whether it was changed or deleted.
    enum Key: Hashable, Sendable, CustomStringConvertible {
        case network(String), port(String), router(String), securityGroup(String)

        var description: String {
            switch self {
            case .network(let id): return "network \(id)"
            case .port(let id): return "port \(id)"
            case .router(let id): return "router \(id)"
            case .securityGroup(let id): return "security group \(id)"
            }
        }
    }

    var key: Key {
        switch self {
        case .port(let id), .portDeleted(let id): return .port(id)
        case .network(let id), .networkDeleted(let id): return .network(id)
        case .router(let id), .routerDeleted(let id): return .router(id)
        case .securityGroup(let id): return .securityGroup(id)
        }
    }
}

/// The members of a request body's resource, read the lenient way Neutron's converters read them
/// (`"True"` is a boolean, `"24"` an integer), and checked against the attributes a client may set.
struct Body {
    let members: [String: JSON]
    let resource: String

    init(_ members: [String: JSON], resource: String) {
        self.members = members
        self.resource = resource
    }

    /// Refuses attributes outside `allowed`, as Neutron does: `Unrecognized attribute(s) 'x'`.
    func only(_ allowed: Set<String>) throws {
        let unknown = members.keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw NetFault.badRequest("Unrecognized attribute(s) '\(unknown.joined(separator: ", "))'")
        }
    }

    func has(_ key: String) -> Bool { members[key] != nil }

    /// Whether a create sets the attribute to something other than its default: Neutron checks an
    /// attribute's policy on create only then (`"shared": false` asks nothing of anyone).
    func setsOtherThanDefault(_ key: String) -> Bool {
        guard let value = members[key] else { return false }
        return Self.defaults[key].map { $0 != value } ?? true
    }

    static let defaults: [String: JSON] = ["shared": false, "router:external": false, "is_default": false,
                                           "binding:host_id": "", "binding:profile": [:]]

    func isNull(_ key: String) -> Bool { members[key] == .null }

    func string(_ key: String, max: Int = 255) throws -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let s)?:
            if s.count > max { throw NetFault.invalid(key, "'\(s.prefix(40))…' exceeds maximum length of \(max).") }
            return s
        default: throw NetFault.invalid(key, "'\(members[key]!.text)' is not a valid string")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        switch members[key] {
        case nil: return nil
        case .bool(let b)?: return b
        case .string(let s)? where ["true", "1"].contains(s.lowercased()): return true
        case .string(let s)? where ["false", "0"].contains(s.lowercased()): return false
        case .int(let i)? where i == 0 || i == 1: return i == 1
        default: throw NetFault.invalid(key, "'\(members[key]!.text)' cannot be converted to boolean")
        }
    }

    func int(_ key: String) throws -> Int? {
        switch members[key] {
        case nil, .null?: return nil
        case .int(let i)?: return Int(i)
        case .string(let s)?:
            guard let i = Int(s) else { throw NetFault.invalid(key, "'\(s)' is not an integer") }
            return i
        default: throw NetFault.invalid(key, "'\(members[key]!.text)' is not an integer")
        }
    }

    func array(_ key: String) throws -> [JSON]? {
        switch members[key] {
        case nil, .null?: return nil
        case .array(let a)?: return a
        default: throw NetFault.invalid(key, "'\(members[key]!.text)' is not a list")
        }
    }

    func strings(_ key: String) throws -> [String]? {
        try array(key)?.map {
            guard let s = $0.stringValue else { throw NetFault.invalid(key, "'\($0.text)' is not a valid string") }
            return s
        }
    }

    func uuid(_ key: String) throws -> String? {
        guard let s = try string(key) else { return nil }
        guard Self.isUUID(s) else { throw NetFault.invalid(key, "'\(s)' is not a valid UUID") }
        return s
    }

    static func isUUID(_ s: String) -> Bool { UUID(uuidString: s) != nil }
}
