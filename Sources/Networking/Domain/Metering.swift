import MartletCore
import SQLKit

/// Metering labels and their rules (`/v2.0/metering/...`): which router traffic a project wants
/// counted. Only the definitions are kept: no data plane counts packets yet, so nothing reads them
/// besides the API. Neither resource has standard attributes or can be updated, as in Neutron.
struct MeteringLabels: ResourceKind {
    let table = ResourceTable.meteringLabels

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["name", "description", "shared", "project_id", "tenant_id"])
        let project = try change.owner(body)
        let doc: Doc = [
            "id": .string(Identifier.uuid()), "project_id": .string(project), "tenant_id": .string(project),
            "name": .string(try body.string("name") ?? ""), "description": .string(try body.string("description", max: 1024) ?? ""),
            "shared": .bool(try body.bool("shared") ?? false),
        ]
        return try await change.insert(table, doc)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try Metering.refuseUpdate(body, attributes: ["name", "description", "shared", "project_id", "tenant_id"], member: table.member)
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        // A label's rules go with it.
        try await change.db.raw("DELETE FROM net_metering_label_rules WHERE metering_label_id = \(bind: id)").run()
        try await change.delete(table, id)
    }
}

struct MeteringLabelRules: ResourceKind {
    let table = ResourceTable.meteringLabelRules
    static let prefixes = ["remote_ip_prefix", "source_ip_prefix", "destination_ip_prefix"]

    /// A rule is shown without the project it is stored under (its label's), as Neutron shows it.
    var expands: Bool { true }

    func expand(_ docs: [Doc], _ db: any SQLDatabase, _ store: NetworkStore) async throws -> [Doc] {
        docs.map { $0.filter { $0.key != "project_id" && $0.key != "tenant_id" } }
    }

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(Set(["metering_label_id", "direction", "excluded", "project_id", "tenant_id"] + Self.prefixes))
        for key in ["metering_label_id", "direction"] where body.members[key] == nil {
            throw NetFault.badRequest("Failed to parse request. Required attribute '\(key)' not specified")
        }
        guard let labelID = try body.uuid("metering_label_id") else { throw NetFault.invalid("metering_label_id", "'None' is not a valid UUID") }
        let direction = try body.string("direction")
        guard let direction, ["ingress", "egress"].contains(direction) else {
            throw NetFault.invalid("direction", "'\(direction ?? "None")' is not in ['ingress', 'egress']")
        }
        let excluded = try body.bool("excluded") ?? false
        var given: [String: String] = [:]
        for key in Self.prefixes {
            if let text = try body.string(key), !text.isEmpty { given[key] = try Self.prefix(text, attribute: key) }
        }
        if given["remote_ip_prefix"] != nil && given.count > 1 {
            throw Metering.invalid("Cannot use 'remote-ip-prefix' in conjunction with 'source-ip-prefix' or 'destination-ip-prefix'.")
        }
        if given.isEmpty {
            throw Metering.invalid("You must define at least one of the following parameters 'remote_ip_prefix', or 'source_ip_prefix' or 'destination_ip_prefix'.")
        }
        guard let label = try await change.get(ResourceTable.meteringLabels, labelID), change.caller.owns(label) else {
            throw NetFault.notFound(ResourceTable.meteringLabels, labelID)
        }
        // Neutron refuses only overlapping remote prefixes among rules of one label, direction and kind.
        if let remote = given["remote_ip_prefix"], let new = CIDR(remote, strict: false) {
            for rule in try await change.rows(table, "metering_label_id = \(bind: labelID)")
            where rule["direction"] == .string(direction) && rule["excluded"] == .bool(excluded) {
                if let old = CIDR(rule["remote_ip_prefix"]?.stringValue ?? "", strict: false), old.overlaps(new) {
                    throw NetFault.conflict("Metering label rule with remote_ip_prefix '\(remote)' overlaps another.", type: "MeteringLabelRuleOverlaps")
                }
            }
        }
        let project = label["project_id"]?.stringValue ?? ""
        var doc: Doc = [
            "id": .string(Identifier.uuid()), "project_id": .string(project), "metering_label_id": .string(labelID),
            "direction": .string(direction), "excluded": .bool(excluded),
        ]
        for key in Self.prefixes { doc[key] = JSON(given[key]) }
        return try await change.insert(table, doc)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try Metering.refuseUpdate(body, attributes: Set(["metering_label_id", "direction", "excluded", "project_id", "tenant_id"] + Self.prefixes),
                                  member: table.member)
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        try await change.delete(table, current["id"]?.stringValue ?? "")
    }

    /// A prefix as Neutron keeps it (`netaddr.IPNetwork`): host bits stay, a bare address gets its full length.
    static func prefix(_ text: String, attribute: String) throws -> String {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let address = IPAddress(parts[0]), let cidr = CIDR(text, strict: false) else {
            throw Metering.invalid("\(attribute): \(text) is invalid [\(text) does not appear to be an IPv4 or IPv6 interface].")
        }
        return "\(address)/\(cidr.prefix)"
    }
}

/// What both metering resources share.
enum Metering {
    /// Neutron's `Invalid`: a 400 of that type.
    static func invalid(_ message: String) -> APIError { NetFault.badRequest(message, type: "Invalid") }

    /// Every attribute is fixed at creation; a body naming none reaches Neutron's plugin, which has no update (501).
    static func refuseUpdate(_ body: Body, attributes: Set<String>, member: String) throws -> Doc {
        if let key = body.members.keys.sorted().first(where: attributes.contains) {
            throw NetFault.badRequest("Cannot update read-only attribute \(key)")
        }
        try body.only([])
        throw APIError(.notImplemented, "Updating a \(member.replacingOccurrences(of: "_", with: " ")) is not supported.", type: "HTTPNotImplemented")
    }
}
