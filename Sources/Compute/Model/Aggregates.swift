import Foundation
import MartletCore
import SQLKit

/// A host aggregate: a named set of hosts with metadata; `availability_zone` in it names their zone.
struct Aggregate: Sendable {
    var id: Int
    var uuid: String
    var name: String
    var metadata: [String: String]
    var hosts: [String]
    var createdAt: Double
    var updatedAt: Double?

    var zone: String? { metadata["availability_zone"] }

    func json(_ v: Microversion, full: Bool = true) -> JSON {
        var body: [String: JSON] = [
            "id": JSON(id), "name": .string(name), "availability_zone": JSON(zone), "deleted": false, "deleted_at": nil,
            "created_at": .string(NovaTime.precise(createdAt)), "updated_at": updatedAt.map { .string(NovaTime.precise($0)) } ?? nil,
        ]
        if full {
            body["hosts"] = JSON(hosts)
            body["metadata"] = .object(metadata.mapValues { .string($0) })
        }
        if v >= Microversion(2, 41) { body["uuid"] = .string(uuid) }
        return .object(body)
    }
}

/// The aggregate queries.
struct Aggregates: Sendable {
    func all(in db: any SQLDatabase) async throws -> [Aggregate] {
        try await db.raw("SELECT * FROM cmp_aggregates ORDER BY id").all().map(Self.decode)
    }

    func get(_ id: Int, in db: any SQLDatabase) async throws -> Aggregate? {
        try await db.raw("SELECT * FROM cmp_aggregates WHERE id = \(bind: id)").first().map(Self.decode)
    }

    /// The zone of every host in an aggregate that names one.
    func zones(in db: any SQLDatabase) async throws -> [String: String] {
        var zones: [String: String] = [:]
        for aggregate in try await all(in: db) {
            guard let zone = aggregate.zone else { continue }
            for host in aggregate.hosts where zones[host] == nil { zones[host] = zone }
        }
        return zones
    }

    func save(_ a: Aggregate, new: Bool, in db: any SQLDatabase) async throws {
        let metadata = String(decoding: try JSONEncoder().encode(a.metadata), as: UTF8.self)
        let hosts = String(decoding: try JSONEncoder().encode(a.hosts), as: UTF8.self)
        if new {
            try await db.raw("""
                INSERT INTO cmp_aggregates (id, uuid, name, metadata, hosts, created_at, updated_at)
                VALUES (\(bind: a.id), \(bind: a.uuid), \(bind: a.name), \(bind: metadata), \(bind: hosts), \(bind: a.createdAt), NULL)
                """).run()
        } else {
            try await db.raw("""
                UPDATE cmp_aggregates SET name = \(bind: a.name), metadata = \(bind: metadata), hosts = \(bind: hosts),
                updated_at = \(bind: Date().timeIntervalSince1970) WHERE id = \(bind: a.id)
                """).run()
        }
    }

    func nextID(in db: any SQLDatabase) async throws -> Int {
        (try await db.raw("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS n FROM cmp_aggregates").first()?.decode(column: "n", as: Int.self) ?? 0) + 1
    }

    func delete(_ id: Int, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM cmp_aggregates WHERE id = \(bind: id)").run()
    }

    static func decode(_ row: any SQLRow) throws -> Aggregate {
        func decoded<T: Decodable>(_ column: String, _ type: T.Type) throws -> T {
            try JSONDecoder().decode(T.self, from: Data(try row.decode(column: column, as: String.self).utf8))
        }
        return Aggregate(id: try row.decode(column: "id", as: Int.self), uuid: try row.decode(column: "uuid", as: String.self),
                         name: try row.decode(column: "name", as: String.self), metadata: try decoded("metadata", [String: String].self),
                         hosts: try decoded("hosts", [String].self), createdAt: try row.decode(column: "created_at", as: Double.self),
                         updatedAt: try row.decode(column: "updated_at", as: Double?.self))
    }
}

/// Nova's time formats.
enum NovaTime {
    /// `2026-11-23T06:12:12Z`: servers.
    static func server(_ t: Double) -> String { Timestamp.iso(Date(timeIntervalSince1970: t)) }
    /// `2026-11-23T06:12:12.000000`: flavors, keypairs, aggregates, actions, migrations.
    static func precise(_ t: Double) -> String { Timestamp.microseconds(Date(timeIntervalSince1970: t), zone: false) }
}
