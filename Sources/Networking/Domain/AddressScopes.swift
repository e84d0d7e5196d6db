import MartletCore
import SQLKit

/// Address scopes: sets of subnet pools whose prefixes never overlap, so addresses inside one scope
/// can be routed without NAT. A scope has no standard attributes, as in Neutron.
struct AddressScopes: ResourceKind {
    let table = ResourceTable.addressScopes

    func visibility(_ caller: Caller) -> SQLQueryString {
        "(project_id = \(bind: caller.projectID) OR shared = 'true')"
    }

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["name", "ip_version", "shared", "project_id", "tenant_id"])
        if body.setsOtherThanDefault("shared") && !change.caller.isAdmin {
            throw NetFault.policy("rule:create_address_scope and rule:create_address_scope:shared")
        }
        guard body.has("ip_version") else {
            throw NetFault.badRequest("Failed to parse request. Required attribute 'ip_version' not specified")
        }
        let version = try body.int("ip_version")
        guard let version, version == 4 || version == 6 else {
            throw NetFault.invalid("ip_version", "'\(body.members["ip_version"]?.text ?? "None")' is not in [4, 6]")
        }
        let project = try change.owner(body)
        let doc: Doc = [
            "id": .string(Identifier.uuid()), "project_id": .string(project), "tenant_id": .string(project),
            "name": .string(try body.string("name") ?? ""), "shared": .bool(try body.bool("shared") ?? false),
            "ip_version": .int(Int64(version)),
        ]
        return try await change.insert(table, doc)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        for key in ["ip_version", "project_id", "tenant_id"] where body.has(key) {
            throw NetFault.badRequest("Cannot update read-only attribute \(key)")
        }
        try body.only(["name", "shared"])
        var doc = current
        if body.has("name") { doc["name"] = .string(try body.string("name") ?? "") }
        if let shared = try body.bool("shared") {
            if !change.caller.isAdmin { throw NetFault.policy("rule:update_address_scope and rule:update_address_scope:shared") }
            // Pools of other projects may already be in a shared scope: it stays shared.
            if current["shared"] == true && !shared {
                let id = current["id"]?.stringValue ?? ""
                throw NetFault.badRequest("Unable to update address scope \(id) : Shared address scope can't be unshared.", type: "AddressScopeUpdateError")
            }
            doc["shared"] = .bool(shared)
        }
        return doc
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        if try await change.store.count(ResourceTable.subnetPools, where: "address_scope_id = \(bind: id)", in: change.db) > 0 {
            throw NetFault.conflict("Unable to complete operation on address scope \(id). There are one or more subnet pools in use on the address scope.",
                                    type: "AddressScopeInUse")
        }
        try await change.delete(table, id)
    }

    /// The scope a pool may join: one the caller owns or that is shared (others are 404, as if absent),
    /// of the pool's IP version, whose other pools' prefixes do not overlap the pool's. `rescoping`:
    /// the pool is moving, perhaps with subnets already carved from it.
    static func checkAssociation(scopeID: String, poolID: String, version: Int, prefixes: [CIDR], rescoping: Bool,
                                 _ change: Change) async throws {
        guard let scope = try await change.store.get(ResourceTable.addressScopes, scopeID, in: change.db),
              change.caller.owns(scope) || scope["shared"] == true else {
            throw NetFault.notFound(ResourceTable.addressScopes, scopeID)
        }
        let scopeVersion = scope["ip_version"]?.intValue ?? 4
        guard scopeVersion == Int64(version) else {
            throw NetFault.badRequest("Illegal subnetpool association: subnetpool \(poolID) cannot associate with address scope \(scopeID) because subnetpool ip_version is not \(scopeVersion).",
                                      type: "IllegalSubnetPoolIpVersionAssociationToAddressScope")
        }
        if rescoping { try await checkRescoping(poolID: poolID, version: version, change) }
        // Serialise joins to one scope so two pools cannot slip in with overlapping prefixes.
        try await change.store.lock("address_scope:\(scopeID)", in: change.db)
        for other in try await change.rows(ResourceTable.subnetPools, "address_scope_id = \(bind: scopeID)") where other["id"]?.stringValue != poolID {
            let theirs = (other["prefixes"]?.array ?? []).compactMap { CIDR($0.stringValue ?? "") }
            if theirs.contains(where: { t in prefixes.contains { $0.overlaps(t) } }) {
                throw NetFault.conflict("Failed to associate address scope: subnetpools within an address scope must have unique prefixes.",
                                        type: "AddressScopePrefixConflict")
            }
        }
    }

    /// Moving a pool to another scope must not leave a network with subnets of one IP version in
    /// two scopes: every subnet of that version on the pool's networks must come from the pool.
    static func checkRescoping(poolID: String, version: Int, _ change: Change) async throws {
        let fromPool = try await change.store.rows(ResourceTable.subnets, where: "subnetpool_id = \(bind: poolID)", in: change.db)
        let networks = Set(fromPool.compactMap { $0["network_id"]?.stringValue })
        guard !networks.isEmpty else { return }
        let onNetworks = try await change.store.rows(ResourceTable.subnets, where: "network_id IN (\(binds: Array(networks)))", in: change.db)
        if onNetworks.contains(where: { $0["ip_version"]?.intValue == Int64(version) && $0["subnetpool_id"]?.stringValue != poolID }) {
            throw affinityError
        }
    }

    static let affinityError = NetFault.badRequest(
        "Subnets of the same address family hosted on the same network must all participate in the same address scope.",
        type: "NetworkAddressScopeAffinityError")

    /// A new subnet from `pool` must join the scope its network's other subnets of that version are in.
    static func checkAffinity(networkID: String, pool: Doc, _ change: Change) async throws {
        let version = Int(pool["ip_version"]?.intValue ?? 4)
        let scopes = try await scopes(networkID: networkID, change)
        guard let current = version == 4 ? scopes.v4 : scopes.v6 else { return }
        if pool["address_scope_id"] != .string(current) { throw affinityError }
    }

    /// The scopes of a network, one per IP version: those of the pools its subnets came from.
    /// `pending`: a pool being updated, whose stored document is not yet the new one.
    static func scopes(networkID: String, _ change: Change, pending: Doc? = nil) async throws -> (v4: String?, v6: String?) {
        var v4: String?, v6: String?
        let subnets = try await change.store.rows(ResourceTable.subnets, where: "network_id = \(bind: networkID)", in: change.db)
        for poolID in Set(subnets.compactMap { $0["subnetpool_id"]?.stringValue }) {
            let stored = pending?["id"]?.stringValue == poolID ? pending : try await change.store.get(ResourceTable.subnetPools, poolID, in: change.db)
            guard let pool = stored, let scope = pool["address_scope_id"]?.stringValue else { continue }
            if pool["ip_version"]?.intValue == 6 { v6 = scope } else { v4 = scope }
        }
        return (v4, v6)
    }

    /// Writes a network's `ipv4_address_scope` and `ipv6_address_scope` into its document; they are
    /// kept there, not worked out per read, so listings stay plain SQL.
    static func showScopes(_ network: inout Doc, _ change: Change, pending: Doc? = nil) async throws {
        let scopes = try await scopes(networkID: network["id"]?.stringValue ?? "", change, pending: pending)
        network["ipv4_address_scope"] = JSON(scopes.v4)
        network["ipv6_address_scope"] = JSON(scopes.v6)
    }

    /// When a pool changes scope, the networks with subnets from it show the new one.
    static func refreshNetworks(ofPool pool: Doc, _ change: Change) async throws {
        let poolID = pool["id"]?.stringValue ?? ""
        let subnets = try await change.store.rows(ResourceTable.subnets, where: "subnetpool_id = \(bind: poolID)", in: change.db)
        for networkID in Set(subnets.compactMap { $0["network_id"]?.stringValue }) {
            guard var network = try await change.get(ResourceTable.networks, networkID) else { continue }
            let before = network
            try await showScopes(&network, change, pending: pool)
            if network != before { try await change.update(ResourceTable.networks, network) }
        }
    }
}
