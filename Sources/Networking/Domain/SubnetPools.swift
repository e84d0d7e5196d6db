import MartletCore
import SQLKit

/// Subnet pools: prefixes that subnets are carved from, by prefix length.
struct SubnetPools: ResourceKind {
    let table = ResourceTable.subnetPools

    func visibility(_ caller: Caller) -> SQLQueryString {
        "(project_id = \(bind: caller.projectID) OR shared = 'true')"
    }

    func create(_ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["name", "description", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared",
                       "is_default", "default_quota", "address_scope_id", "project_id", "tenant_id", "tags"])
        for key in ["shared", "is_default"] where body.setsOtherThanDefault(key) && !change.caller.isAdmin {
            throw NetFault.policy("rule:create_subnetpool and rule:create_subnetpool:\(key)")
        }
        let project = try change.owner(body)
        try await change.checkQuota("subnetpool", project: project, table: table)
        guard let texts = try body.strings("prefixes"), !texts.isEmpty else { throw NetFault.invalid("prefixes", "at least one prefix is required") }
        let prefixes = try texts.map { try Subnets.parseCIDR($0, attribute: "prefixes") }
        let version = prefixes[0].version
        if prefixes.contains(where: { $0.version != version }) {
            throw NetFault.badRequest("Illegal subnetpool prefixes: Cannot mix IPv4 and IPv6 prefixes in a subnet pool.", type: "IllegalSubnetPoolPrefixes")
        }
        let bits = version == 4 ? 32 : 128
        let minLen = try body.int("min_prefixlen") ?? (version == 4 ? 8 : 64)
        let maxLen = try body.int("max_prefixlen") ?? bits
        let defaultLen = try body.int("default_prefixlen") ?? minLen
        try Self.checkBounds(min: minLen, default: defaultLen, max: maxLen, bits: bits)
        let id = Identifier.uuid()
        let scopeID = try body.uuid("address_scope_id")
        if let scopeID {
            try await AddressScopes.checkAssociation(scopeID: scopeID, poolID: id, version: version, prefixes: prefixes, rescoping: false, change)
        }
        let doc: Doc = [
            "id": .string(id), "project_id": .string(project), "tenant_id": .string(project),
            "name": .string(try body.string("name") ?? ""), "description": .string(try body.string("description") ?? ""),
            "prefixes": JSON(Self.merge(prefixes).map(\.description)), "ip_version": .int(Int64(version)),
            "min_prefixlen": .int(Int64(minLen)), "max_prefixlen": .int(Int64(maxLen)), "default_prefixlen": .int(Int64(defaultLen)),
            "shared": .bool(try body.bool("shared") ?? false), "is_default": .bool(try body.bool("is_default") ?? false),
            "default_quota": try body.int("default_quota").map { .int(Int64($0)) } ?? .null,
            "address_scope_id": JSON(scopeID), "tags": .array(try Tags.from(body)),
        ]
        return try await change.insert(table, doc)
    }

    func update(_ current: Doc, _ body: Body, _ change: Change) async throws -> Doc {
        try body.only(["name", "description", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "is_default", "default_quota",
                       "address_scope_id"])
        var doc = current
        for key in ["name", "description"] where body.has(key) { doc[key] = .string(try body.string(key) ?? "") }
        if let texts = try body.strings("prefixes") {
            let old = (current["prefixes"]?.array ?? []).compactMap { CIDR($0.stringValue ?? "") }
            let new = try texts.map { try Subnets.parseCIDR($0, attribute: "prefixes") }
            // Prefixes may only grow: every old one must stay covered.
            guard old.allSatisfy({ o in new.contains { $0.contains(o) } }) else {
                throw NetFault.badRequest("Illegal update to prefixes: prefixes of a subnet pool may only be added to.", type: "IllegalSubnetPoolPrefixUpdate")
            }
            doc["prefixes"] = JSON(Self.merge(new).map(\.description))
        }
        for key in ["default_prefixlen", "min_prefixlen", "max_prefixlen", "default_quota"] {
            if let value = try body.int(key) { doc[key] = .int(Int64(value)) }
        }
        let version = current["ip_version"]?.intValue ?? 4
        if let prefixes = try body.strings("prefixes"), prefixes.contains(where: { CIDR($0)?.version != Int(version) }) {
            throw NetFault.badRequest("Illegal subnetpool prefixes: all prefixes must be IPv\(version).", type: "IllegalSubnetPoolPrefixes")
        }
        try Self.checkBounds(min: Int(doc["min_prefixlen"]?.intValue ?? 0), default: Int(doc["default_prefixlen"]?.intValue ?? 0),
                             max: Int(doc["max_prefixlen"]?.intValue ?? 0), bits: version == 4 ? 32 : 128)
        if let isDefault = try body.bool("is_default") {
            if !change.caller.isAdmin { throw NetFault.policy("rule:update_subnetpool and rule:update_subnetpool:is_default") }
            doc["is_default"] = .bool(isDefault)
        }
        try await updateScope(current, &doc, body, change)
        return doc
    }

    /// A pool in another project's shared scope is frozen for all but admins; a pool joining a scope
    /// (or growing inside one) is checked against it, and its networks then show the new scope.
    private func updateScope(_ current: Doc, _ doc: inout Doc, _ body: Body, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        if let old = current["address_scope_id"]?.stringValue, !change.caller.isAdmin,
           try await change.store.get(ResourceTable.addressScopes, old, in: change.db).map(change.caller.owns) == false {
            throw NetFault.badRequest("Illegal subnetpool update : subnetpool \(id) cannot be updated when associated with shared address scope \(old).",
                                      type: "IllegalSubnetPoolUpdate")
        }
        if body.has("address_scope_id") { doc["address_scope_id"] = JSON(try body.uuid("address_scope_id")) }
        let moved = doc["address_scope_id"] != current["address_scope_id"]
        if let scope = doc["address_scope_id"]?.stringValue, moved || doc["prefixes"] != current["prefixes"] {
            let prefixes = (doc["prefixes"]?.array ?? []).compactMap { CIDR($0.stringValue ?? "") }
            try await AddressScopes.checkAssociation(scopeID: scope, poolID: id, version: Int(current["ip_version"]?.intValue ?? 4),
                                                     prefixes: prefixes, rescoping: moved, change)
        }
        if moved { try await AddressScopes.refreshNetworks(ofPool: doc, change) }
    }

    func delete(_ current: Doc, _ change: Change) async throws {
        let id = current["id"]?.stringValue ?? ""
        if try await change.store.count(ResourceTable.subnets, where: "subnetpool_id = \(bind: id)", in: change.db) > 0 {
            throw NetFault.conflict("Unable to complete operation on subnetpool \(id). Subnet pool has existing allocations.", type: "SubnetPoolInUse")
        }
        try await change.delete(table, id)
    }

    /// 1 ≤ min ≤ default ≤ max ≤ the address size: a prefix of length 0 is every address, which no subnet may be.
    static func checkBounds(min: Int, default defaultLen: Int, max: Int, bits: Int) throws {
        guard 1 <= min, min <= defaultLen, defaultLen <= max, max <= bits else {
            throw NetFault.badRequest("Illegal prefix bounds: 1 <= min_prefixlen \(min) <= default_prefixlen \(defaultLen) <= max_prefixlen \(max) <= \(bits) is required.", type: "IllegalSubnetPoolPrefixBounds")
        }
    }

    /// Drops prefixes covered by others, keeping the list sorted.
    static func merge(_ prefixes: [CIDR]) -> [CIDR] {
        let sorted = prefixes.sorted { ($0.network, $0.prefix) < ($1.network, $1.prefix) }
        return sorted.filter { p in !sorted.contains { $0 != p && $0.contains(p) } }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    static func usable(_ id: String, _ change: Change) async throws -> Doc {
        guard let pool = try await change.get(ResourceTable.subnetPools, id), change.caller.owns(pool) || pool["shared"] == true else {
            throw NetFault.notFound(ResourceTable.subnetPools, id)
        }
        return pool
    }

    static func defaultPool(version: Int, _ change: Change) async throws -> Doc? {
        try await change.rows(ResourceTable.subnetPools, "1 = 1").first {
            $0["is_default"] == true && $0["ip_version"]?.intValue == Int64(version)
        }
    }

    /// A prefix for a new subnet: the one asked for if it is free and inside the pool, else the
    /// first free prefix of the requested length.
    static func allocate(from pool: Doc, cidr: String?, prefixlen: Int?, _ change: Change) async throws -> CIDR {
        let poolID = pool["id"]?.stringValue ?? ""
        try await change.store.lock("subnetpool:\(poolID)", in: change.db)
        let prefixes = (pool["prefixes"]?.array ?? []).compactMap { CIDR($0.stringValue ?? "") }
        let used = try await change.rows(ResourceTable.subnets, "subnetpool_id = \(bind: poolID)").compactMap { CIDR($0["cidr"]?.stringValue ?? "") }
        let bits = pool["ip_version"]?.intValue == 6 ? 128 : 32
        let minLen = max(1, Int(pool["min_prefixlen"]?.intValue ?? 1)), maxLen = min(bits, Int(pool["max_prefixlen"]?.intValue ?? Int64(bits)))
        guard minLen <= maxLen else { throw NetFault.badRequest("Subnet pool \(poolID) has no valid prefix length.", type: "InvalidInput") }
        if let cidr {
            let wanted = try Subnets.parseCIDR(cidr)
            guard prefixes.contains(where: { $0.contains(wanted) }) else {
                throw NetFault.badRequest("Invalid input for operation: Cidr \(wanted) is not within the subnet pool \(poolID).", type: "InvalidInput")
            }
            guard (minLen...maxLen).contains(wanted.prefix) else {
                throw NetFault.badRequest("Unsupported prefix length: \(wanted.prefix) is outside \(minLen)–\(maxLen).", type: "InvalidInput")
            }
            if used.contains(where: { $0.overlaps(wanted) }) {
                throw NetFault.conflict("Unable to allocate subnet with prefix \(wanted): it overlaps a subnet already allocated from the pool.", type: "SubnetAllocationError")
            }
            return wanted
        }
        let length = prefixlen ?? Int(pool["default_prefixlen"]?.intValue ?? Int64(minLen))
        guard (minLen...maxLen).contains(length) else {
            throw NetFault.badRequest("Unsupported prefix length: \(length) is outside \(minLen)–\(maxLen).", type: "InvalidInput")
        }
        for prefix in prefixes where prefix.prefix <= length {
            let step = UInt128(1) << UInt128(prefix.network.bits - length)
            var candidate = prefix.network
            while prefix.contains(candidate) {
                let block = CIDR(network: candidate, prefix: length)
                if let blocker = used.first(where: { $0.overlaps(block) }) {
                    // Skip past the blocking subnet in one step.
                    let next = max(blocker.last.value &+ 1, candidate.value &+ step)
                    let aligned = (next &+ step &- 1) / step * step
                    if aligned <= candidate.value { break }
                    candidate = IPAddress(aligned, version: candidate.version)
                    continue
                }
                return block
            }
        }
        throw NetFault.conflict("Unable to allocate subnet with prefix length \(length), subnet pool \(poolID) has no free prefix of that length.", type: "SubnetAllocationError")
    }
}
