import Foundation
import MartletCore
import MartletStore
import SQLKit

/// Every query the Network service makes. Resources are whole JSON documents; see `ResourceTable`.
struct NetworkStore: Sendable {
    let db: Database

    /// A stored resource as text, for listings that pass documents through without parsing them.
    struct RawRow: Sendable {
        let id: String
        let doc: String
        let privateDoc: String?
    }

    func get(_ table: ResourceTable, _ id: String, forUpdate: Bool = false, in db: any SQLDatabase) async throws -> Doc? {
        try await rows(table, where: "id = \(bind: id)", forUpdate: forUpdate, in: db).first
    }

    /// `forUpdate`: inside a write transaction, the rows stay locked until it ends (PostgreSQL;
    /// SQLite runs one writer at a time anyway), so read-modify-write never loses an update.
    func rows(_ table: ResourceTable, where condition: SQLQueryString, forUpdate: Bool = false, in db: any SQLDatabase) async throws -> [Doc] {
        try await raw(table, where: condition, order: "id", limit: nil, forUpdate: forUpdate, in: db).map(Self.decode)
    }

    func raw(_ table: ResourceTable, where condition: SQLQueryString, order: String, limit: Int?, forUpdate: Bool = false,
             in db: any SQLDatabase) async throws -> [RawRow] {
        var query: SQLQueryString = "SELECT id, doc, private_doc FROM \(unsafeRaw: table.table) WHERE "
        query += condition
        query += " ORDER BY \(unsafeRaw: order)" as SQLQueryString
        if let limit { query += " LIMIT \(unsafeRaw: String(limit))" as SQLQueryString }
        if forUpdate && self.db.kind == .postgres { query += " FOR UPDATE" }
        return try await db.raw(query).all().map { row in
            RawRow(id: try row.decode(column: "id", as: String.self), doc: try row.decode(column: "doc", as: String.self),
                   privateDoc: try row.decode(column: "private_doc", as: String?.self))
        }
    }

    static func decode(_ row: RawRow) throws -> Doc {
        var doc = try JSON.parse(Array(row.doc.utf8)).objectValue ?? [:]
        if let extra = row.privateDoc, let members = try JSON.parse(Array(extra.utf8)).objectValue {
            doc.merge(members) { _, new in new }
        }
        return doc
    }

    func count(_ table: ResourceTable, where condition: SQLQueryString, in db: any SQLDatabase) async throws -> Int {
        var query: SQLQueryString = "SELECT COUNT(*) AS n FROM \(unsafeRaw: table.table) WHERE "
        query += condition
        return try await db.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Stores a new resource, stamping the standard attributes if it has them.
    @discardableResult
    func insert(_ table: ResourceTable, _ doc: Doc, now: String, in db: any SQLDatabase) async throws -> Doc {
        var doc = doc
        if table.standardAttributes {
            doc["created_at"] = .string(now)
            doc["updated_at"] = .string(now)
            doc["revision_number"] = 1
        }
        let (names, values) = columnValues(table, doc)
        let (publicText, privateText) = split(table, doc)
        var query: SQLQueryString = "INSERT INTO \(unsafeRaw: table.table) (doc, private_doc"
        for name in names { query += ", \(unsafeRaw: name)" as SQLQueryString }
        query += ") VALUES (\(bind: publicText), \(bind: privateText)" as SQLQueryString
        for value in values { query += ", \(bind: value)" as SQLQueryString }
        query += ")"
        try await db.raw(query).run()
        return doc
    }

    /// Replaces a resource, advancing its revision if it has one.
    @discardableResult
    func update(_ table: ResourceTable, _ doc: Doc, now: String, in db: any SQLDatabase) async throws -> Doc {
        var doc = doc
        if table.standardAttributes {
            doc["updated_at"] = .string(now)
            doc["revision_number"] = .int((doc["revision_number"]?.intValue ?? 0) + 1)
        }
        let (names, values) = columnValues(table, doc)
        let (publicText, privateText) = split(table, doc)
        var query: SQLQueryString = "UPDATE \(unsafeRaw: table.table) SET doc = \(bind: publicText), private_doc = \(bind: privateText)"
        for (name, value) in zip(names, values) where name != "id" { query += ", \(unsafeRaw: name) = \(bind: value)" as SQLQueryString }
        query += " WHERE id = \(bind: doc["id"]?.stringValue ?? "")" as SQLQueryString
        try await db.raw(query).run()
        return doc
    }

    func delete(_ table: ResourceTable, _ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM \(unsafeRaw: table.table) WHERE id = \(bind: id)").run()
    }

    private func columnValues(_ table: ResourceTable, _ doc: Doc) -> ([String], [String?]) {
        var seen = Set<String>(), names: [String] = [], values: [String?] = []
        for (attribute, column) in table.columns.sorted(by: { $0.key < $1.key }) where seen.insert(column).inserted {
            names.append(column)
            values.append(ResourceTable.columnText(doc[attribute]))
        }
        return (names, values)
    }

    private func split(_ table: ResourceTable, _ doc: Doc) -> (String, String?) {
        var publicPart = doc, privatePart: Doc = [:]
        for key in table.privateAttributes {
            if let value = publicPart.removeValue(forKey: key) { privatePart[key] = value }
        }
        return (JSON.object(publicPart).text, privatePart.isEmpty ? nil : JSON.object(privatePart).text)
    }

    /// Serializes writers that must see each other's work (IPAM on a subnet, a project's quota):
    /// SQLite transactions are serial already; PostgreSQL takes a transaction-scoped advisory lock.
    func lock(_ key: String, in db: any SQLDatabase) async throws {
        guard self.db.kind == .postgres else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: key)))").run()
    }

    // MARK: - IP allocations

    func isAllocated(subnetID: String, ip: String, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT 1 AS one FROM net_ip_allocations WHERE subnet_id = \(bind: subnetID) AND ip_address = \(bind: ip)").first() != nil
    }

    func allocationCount(subnetID: String, in db: any SQLDatabase) async throws -> Int {
        try await db.raw("SELECT COUNT(*) AS n FROM net_ip_allocations WHERE subnet_id = \(bind: subnetID)").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func allocations(subnetID: String, in db: any SQLDatabase) async throws -> [(ip: String, portID: String)] {
        try await db.raw("SELECT ip_address, port_id FROM net_ip_allocations WHERE subnet_id = \(bind: subnetID)").all().map {
            (try $0.decode(column: "ip_address", as: String.self), try $0.decode(column: "port_id", as: String.self))
        }
    }

    func allocate(subnetID: String, networkID: String, ip: String, portID: String, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO net_ip_allocations (subnet_id, ip_address, port_id, network_id)
            VALUES (\(bind: subnetID), \(bind: ip), \(bind: portID), \(bind: networkID))
            """).run()
    }

    func release(portID: String, keeping: [(subnet: String, ip: String)] = [], in db: any SQLDatabase) async throws {
        for row in try await db.raw("SELECT subnet_id, ip_address FROM net_ip_allocations WHERE port_id = \(bind: portID)").all() {
            let subnet = try row.decode(column: "subnet_id", as: String.self), ip = try row.decode(column: "ip_address", as: String.self)
            if keeping.contains(where: { $0.subnet == subnet && $0.ip == ip }) { continue }
            try await db.raw("DELETE FROM net_ip_allocations WHERE subnet_id = \(bind: subnet) AND ip_address = \(bind: ip)").run()
        }
    }

    func ipamCursor(subnetID: String, in db: any SQLDatabase) async throws -> String? {
        try await db.raw("SELECT ipam_cursor FROM net_subnets WHERE id = \(bind: subnetID)").first()?.decode(column: "ipam_cursor", as: String?.self)
    }

    func setIPAMCursor(subnetID: String, _ ip: String, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE net_subnets SET ipam_cursor = \(bind: ip) WHERE id = \(bind: subnetID)").run()
    }

    // MARK: - Segments

    func segmentTaken(type: String, physnet: String, id: Int, in db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            SELECT 1 AS one FROM net_segments WHERE network_type = \(bind: type) AND physical_network = \(bind: physnet)
              AND segmentation_id = \(bind: id)
            """).first() != nil
    }

    func usedSegments(type: String, physnet: String, in db: any SQLDatabase) async throws -> Set<Int> {
        Set(try await db.raw("""
            SELECT segmentation_id FROM net_segments WHERE network_type = \(bind: type) AND physical_network = \(bind: physnet)
            """).all().map { try $0.decode(column: "segmentation_id", as: Int.self) })
    }

    func addSegment(networkID: String, type: String, physnet: String, id: Int, in db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO net_segments (network_id, network_type, physical_network, segmentation_id)
            VALUES (\(bind: networkID), \(bind: type), \(bind: physnet), \(bind: id))
            """).run()
    }

    func removeSegment(networkID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM net_segments WHERE network_id = \(bind: networkID)").run()
    }

    // MARK: - Quotas and default security groups

    func quotaOverrides(project: String?, in db: any SQLDatabase) async throws -> [String: [String: Int]] {
        var query: SQLQueryString = "SELECT project_id, resource, hard_limit FROM net_quotas"
        if let project { query += " WHERE project_id = \(bind: project)" as SQLQueryString }
        var result: [String: [String: Int]] = [:]
        for row in try await db.raw(query).all() {
            result[try row.decode(column: "project_id", as: String.self), default: [:]][try row.decode(column: "resource", as: String.self)] =
                try row.decode(column: "hard_limit", as: Int.self)
        }
        return result
    }

    func setQuota(project: String, resource: String, limit: Int, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM net_quotas WHERE project_id = \(bind: project) AND resource = \(bind: resource)").run()
        try await db.raw("INSERT INTO net_quotas (project_id, resource, hard_limit) VALUES (\(bind: project), \(bind: resource), \(bind: limit))").run()
    }

    func resetQuotas(project: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM net_quotas WHERE project_id = \(bind: project)").run()
    }

    func defaultSecurityGroup(project: String, in db: any SQLDatabase) async throws -> String? {
        try await db.raw("SELECT security_group_id FROM net_default_security_groups WHERE project_id = \(bind: project)")
            .first()?.decode(column: "security_group_id", as: String.self)
    }

    func setDefaultSecurityGroup(project: String, groupID: String, in db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO net_default_security_groups (project_id, security_group_id) VALUES (\(bind: project), \(bind: groupID))").run()
    }

    func removeDefaultSecurityGroup(groupID: String, in db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM net_default_security_groups WHERE security_group_id = \(bind: groupID)").run()
    }
}

extension JSON {
    var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
}
