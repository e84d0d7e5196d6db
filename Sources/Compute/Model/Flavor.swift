import Foundation
import MartletCore
import SQLKit

/// A flavor: the size of a server.
struct Flavor: Sendable, Equatable {
    var id: String
    var name: String
    var ram: Int
    var vcpus: Int
    var disk: Int
    var ephemeral: Int
    var swap: Int
    var rxtxFactor: Double
    var isPublic: Bool
    var disabled: Bool
    var description: String?
    var extraSpecs: [String: String]
    var createdAt: Double

    /// DevStack's flavors, made by the bootstrap.
    static let defaults: [Flavor] = [
        ("42", "m1.nano", 192, 1, 1), ("84", "m1.micro", 256, 1, 1), ("1", "m1.tiny", 512, 1, 1),
        ("2", "m1.small", 2048, 1, 20), ("3", "m1.medium", 4096, 2, 40), ("4", "m1.large", 8192, 4, 80),
        ("5", "m1.xlarge", 16384, 8, 160),
    ].map { Flavor(id: $0.0, name: $0.1, ram: $0.2, vcpus: $0.3, disk: $0.4, ephemeral: 0, swap: 0, rxtxFactor: 1,
                   isPublic: true, disabled: false, description: nil, extraSpecs: [:], createdAt: 0) }

    var snapshot: FlavorSnapshot {
        FlavorSnapshot(id: id, name: name, vcpus: vcpus, ram: ram, disk: disk, ephemeral: ephemeral, swap: swap, extraSpecs: extraSpecs)
    }

    func json(_ v: Microversion, links: Links) -> JSON {
        var body: [String: JSON] = [
            "id": .string(id), "name": .string(name), "ram": JSON(ram), "vcpus": JSON(vcpus), "disk": JSON(disk),
            "swap": swap == 0 && v < Microversion(2, 75) ? "" : JSON(swap),
            "OS-FLV-EXT-DATA:ephemeral": JSON(ephemeral), "OS-FLV-DISABLED:disabled": .bool(disabled),
            "os-flavor-access:is_public": .bool(isPublic), "rxtx_factor": .double(rxtxFactor),
            "links": links.json("flavors", id),
        ]
        if v >= Microversion(2, 55) { body["description"] = JSON(description) }
        if v >= Microversion(2, 61) { body["extra_specs"] = .object(extraSpecs.mapValues { .string($0) }) }
        return .object(body)
    }

    func summary(_ v: Microversion, links: Links) -> JSON {
        var body: [String: JSON] = ["id": .string(id), "name": .string(name), "links": links.json("flavors", id)]
        if v >= Microversion(2, 55) { body["description"] = JSON(description) }
        return .object(body)
    }

    static let columns = "id, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor, is_public, disabled, description, extra_specs, created_at"

    init(id: String, name: String, ram: Int, vcpus: Int, disk: Int, ephemeral: Int, swap: Int, rxtxFactor: Double,
         isPublic: Bool, disabled: Bool, description: String?, extraSpecs: [String: String], createdAt: Double) {
        self.id = id; self.name = name; self.ram = ram; self.vcpus = vcpus; self.disk = disk; self.ephemeral = ephemeral
        self.swap = swap; self.rxtxFactor = rxtxFactor; self.isPublic = isPublic; self.disabled = disabled
        self.description = description; self.extraSpecs = extraSpecs; self.createdAt = createdAt
    }

    init(row: any SQLRow) throws {
        id = try row.decode(column: "id", as: String.self)
        name = try row.decode(column: "name", as: String.self)
        ram = try row.decode(column: "memory_mb", as: Int.self)
        vcpus = try row.decode(column: "vcpus", as: Int.self)
        disk = try row.decode(column: "root_gb", as: Int.self)
        ephemeral = try row.decode(column: "ephemeral_gb", as: Int.self)
        swap = try row.decode(column: "swap", as: Int.self)
        rxtxFactor = try row.decode(column: "rxtx_factor", as: Double.self)
        isPublic = try row.decode(column: "is_public", as: Int.self) != 0
        disabled = try row.decode(column: "disabled", as: Int.self) != 0
        description = try row.decode(column: "description", as: String?.self)
        let specs = try row.decode(column: "extra_specs", as: String.self)
        extraSpecs = (try? JSONDecoder().decode([String: String].self, from: Data(specs.utf8))) ?? [:]
        createdAt = try row.decode(column: "created_at", as: Double.self)
    }
}

/// The flavor queries.
struct FlavorStore: Sendable {
    func get(_ id: String, in db: any SQLDatabase) async throws -> Flavor? {
        try await db.raw("SELECT \(unsafeRaw: Flavor.columns) FROM cmp_flavors WHERE id = \(bind: id)").first().map(Flavor.init(row:))
    }

    func all(in db: any SQLDatabase) async throws -> [Flavor] {
        try await db.raw("SELECT \(unsafeRaw: Flavor.columns) FROM cmp_flavors").all().map(Flavor.init(row:))
    }

    func projects(_ flavorID: String, in db: any SQLDatabase) async throws -> [String] {
        try await db.raw("SELECT project_id FROM cmp_flavor_access WHERE flavor_id = \(bind: flavorID) ORDER BY project_id").all()
            .map { try $0.decode(column: "project_id", as: String.self) }
    }

    /// Private flavors the project was given.
    func granted(to project: String, in db: any SQLDatabase) async throws -> Set<String> {
        Set(try await db.raw("SELECT flavor_id FROM cmp_flavor_access WHERE project_id = \(bind: project)").all()
            .map { try $0.decode(column: "flavor_id", as: String.self) })
    }

    func insert(_ f: Flavor, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO cmp_flavors (\(unsafeRaw: Flavor.columns)) VALUES (\(bind: f.id), \(bind: f.name), \(bind: f.ram), \(bind: f.vcpus),
            \(bind: f.disk), \(bind: f.ephemeral), \(bind: f.swap), \(bind: f.rxtxFactor), \(bind: f.isPublic ? 1 : 0),
            \(bind: f.disabled ? 1 : 0), \(bind: f.description), \(bind: try Self.specs(f.extraSpecs)), \(bind: f.createdAt))
            """).run()
    }

    func update(_ f: Flavor, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE cmp_flavors SET description = \(bind: f.description), extra_specs = \(bind: try Self.specs(f.extraSpecs)),
            updated_at = \(bind: Date().timeIntervalSince1970) WHERE id = \(bind: f.id)
            """).run()
    }

    static func specs(_ specs: [String: String]) throws -> String {
        String(decoding: try JSONEncoder().encode(specs), as: UTF8.self)
    }

    /// Whether the caller's project may use the flavor.
    func visible(_ f: Flavor, project: String?, isAdmin: Bool, in db: any SQLDatabase) async throws -> Bool {
        if f.isPublic || isAdmin { return true }
        guard let project else { return false }
        return try await db.raw("SELECT 1 AS one FROM cmp_flavor_access WHERE flavor_id = \(bind: f.id) AND project_id = \(bind: project)").first() != nil
    }
}
