import MartletCore
import MartletStore
import SQLKit

/// Fixed IPs for ports: from a subnet's pools (never its network, broadcast or gateway address),
/// from the MAC on SLAAC subnets, or as the client asked; each address held by one port only.
struct IPAM {
    let change: Change
    var store: NetworkStore { change.store }

    /// What a port asks for in `fixed_ips`: a subnet, an address, or both.
    struct Request {
        var subnetID: String?
        var ip: IPAddress?
    }

    static func parseRequests(_ list: [JSON]) throws -> [Request] {
        try list.map { item in
            guard let object = item.objectValue else { throw NetFault.invalid("fixed_ips", "Invalid data format for fixed IP: '\(item.text)'") }
            let unknown = Set(object.keys).subtracting(["subnet_id", "ip_address"])
            if !unknown.isEmpty { throw NetFault.invalid("fixed_ips", "Unrecognized fixed IP attribute(s) '\(unknown.sorted().joined(separator: ", "))'") }
            var request = Request()
            if let subnet = object["subnet_id"], subnet != .null {
                guard let s = subnet.stringValue, Body.isUUID(s) else { throw NetFault.invalid("fixed_ips", "'\(subnet.text)' is not a valid UUID") }
                request.subnetID = s
            }
            if let ip = object["ip_address"], ip != .null {
                guard let text = ip.stringValue, let address = IPAddress(text) else {
                    throw NetFault.invalid("fixed_ips", "'\(ip.text)' is not a valid IP address")
                }
                request.ip = address
            }
            if request.subnetID == nil && request.ip == nil { throw NetFault.invalid("fixed_ips", "Invalid data format for fixed IP: '\(item.text)'") }
            return request
        }
    }

    /// Allocates the addresses a new (or updated) port gets. `requests` nil means Neutron's default:
    /// one IPv4 address, plus an address on each IPv6 subnet.
    func assign(portID: String, networkID: String, mac: String, requests: [Request]?, keeping: [(subnet: String, ip: String)] = []) async throws -> [JSON] {
        let subnets = try await change.rows(ResourceTable.subnets, "network_id = \(bind: networkID)")
        var result: [(String, String)] = []
        if let requests {
            for request in requests {
                let subnet: Doc
                if let subnetID = request.subnetID {
                    guard let found = subnets.first(where: { $0["id"]?.stringValue == subnetID }) else {
                        if try await change.get(ResourceTable.subnets, subnetID) == nil { throw NetFault.notFound(ResourceTable.subnets, subnetID) }
                        throw NetFault.badRequest("Invalid input for operation: Failed to create port on network \(networkID), because fixed_ips included invalid subnet \(subnetID).", type: "InvalidInput")
                    }
                    subnet = found
                } else {
                    guard let ip = request.ip, let found = subnets.first(where: { CIDR($0["cidr"]?.stringValue ?? "")?.contains(ip) == true }) else {
                        throw NetFault.badRequest("Invalid input for operation: IP address \(request.ip?.description ?? "") is not a valid IP for any of the subnets on the specified network.", type: "InvalidInput")
                    }
                    subnet = found
                }
                let subnetID = subnet["id"]?.stringValue ?? ""
                if let ip = request.ip {
                    try checkInSubnet(ip, subnet)
                    if keeping.contains(where: { $0.subnet == subnetID && $0.ip == ip.description }) {
                        result.append((subnetID, ip.description))
                        continue
                    }
                    try await take(ip, subnet: subnet, portID: portID)
                    result.append((subnetID, ip.description))
                } else {
                    result.append((subnetID, try await allocate(on: subnet, portID: portID, mac: mac).description))
                }
            }
        } else {
            var gotV4 = false
            for subnet in subnets {
                let version = subnet["ip_version"]?.intValue ?? 4
                if version == 4 {
                    if gotV4 { continue }
                    do {
                        result.append((subnet["id"]?.stringValue ?? "", try await allocate(on: subnet, portID: portID, mac: mac).description))
                        gotV4 = true
                    } catch let error as APIError where error.type == "IpAddressGenerationFailure" {
                        continue
                    }
                } else {
                    result.append((subnet["id"]?.stringValue ?? "", try await allocate(on: subnet, portID: portID, mac: mac).description))
                }
            }
            if !gotV4 && subnets.contains(where: { $0["ip_version"]?.intValue == 4 }) {
                throw Self.exhausted(networkID)
            }
        }
        return result.map { ["subnet_id": .string($0.0), "ip_address": .string($0.1)] }
    }

    static func exhausted(_ networkID: String) -> APIError {
        APIError(.conflict, "No more IP addresses available on network \(networkID).", type: "IpAddressGenerationFailure")
    }

    private func checkInSubnet(_ ip: IPAddress, _ subnet: Doc) throws {
        guard let cidr = CIDR(subnet["cidr"]?.stringValue ?? ""), cidr.contains(ip) else {
            throw NetFault.badRequest("Invalid input for operation: IP address \(ip) is not a valid IP for the specified subnet.", type: "InvalidInput")
        }
        if cidr.version == 4, cidr.prefix < 31, ip == cidr.first || ip == cidr.last {
            throw NetFault.badRequest("Invalid input for operation: IP address \(ip) is not a valid IP for the specified subnet.", type: "InvalidInput")
        }
    }

    /// Holds one named address for the port; 409 if another port has it.
    private func take(_ ip: IPAddress, subnet: Doc, portID: String) async throws {
        let subnetID = subnet["id"]?.stringValue ?? ""
        try await store.lock("ipam:\(subnetID)", in: change.db)
        if try await store.isAllocated(subnetID: subnetID, ip: ip.description, in: change.db) {
            throw NetFault.conflict("IP address \(ip) already allocated in subnet \(subnetID)", type: "IpAddressAlreadyAllocated")
        }
        try await store.allocate(subnetID: subnetID, networkID: subnet["network_id"]?.stringValue ?? "", ip: ip.description, portID: portID, in: change.db)
    }

    /// The next free address of the subnet: from the MAC on SLAAC subnets, else the first free one
    /// after the last handed out (so a freed address is not reused at once), wrapping round the pools.
    func allocate(on subnet: Doc, portID: String, mac: String) async throws -> IPAddress {
        let subnetID = subnet["id"]?.stringValue ?? "", networkID = subnet["network_id"]?.stringValue ?? ""
        if Subnets.isAutoAddress(subnet), let cidr = CIDR(subnet["cidr"]?.stringValue ?? ""), let ip = MACAddress.eui64(mac, in: cidr) {
            try await take(ip, subnet: subnet, portID: portID)
            return ip
        }
        let pools = Subnets.pools(subnet)
        guard !pools.isEmpty else { throw Self.exhausted(networkID) }
        try await store.lock("ipam:\(subnetID)", in: change.db)
        let total = pools.reduce(UInt128(0)) { $0 &+ $1.size }
        var candidate = Self.successor(of: try await store.ipamCursor(subnetID: subnetID, in: change.db).flatMap(IPAddress.init), in: pools)
        var tries: UInt128 = 0
        // Point lookups find a free address at once in all but crowded pools.
        while tries < min(total, 64) {
            if try await !store.isAllocated(subnetID: subnetID, ip: candidate.description, in: change.db) {
                return try await hold(candidate, subnetID: subnetID, networkID: networkID, portID: portID)
            }
            candidate = Self.successor(of: candidate, in: pools)
            tries += 1
        }
        guard total > 64 else { throw Self.exhausted(networkID) }
        if total > 65_536 {
            // Huge (IPv6) pools are never scanned: random addresses in them are almost all free.
            for _ in 0..<256 {
                let pool = pools.randomElement()!
                let ip = pool.start.adding(UInt128.random(in: 0...(pool.end.value - pool.start.value)))
                if try await !store.isAllocated(subnetID: subnetID, ip: ip.description, in: change.db) {
                    return try await hold(ip, subnetID: subnetID, networkID: networkID, portID: portID)
                }
            }
            throw Self.exhausted(networkID)
        }
        // Crowded: read every held address once and scan the pools.
        let used = Set(try await store.allocations(subnetID: subnetID, in: change.db).map(\.ip))
        for pool in pools {
            var ip = pool.start
            while true {
                if !used.contains(ip.description) { return try await hold(ip, subnetID: subnetID, networkID: networkID, portID: portID) }
                if ip == pool.end { break }
                ip = ip.adding(1)
            }
        }
        throw Self.exhausted(networkID)
    }

    private func hold(_ ip: IPAddress, subnetID: String, networkID: String, portID: String) async throws -> IPAddress {
        try await store.allocate(subnetID: subnetID, networkID: networkID, ip: ip.description, portID: portID, in: change.db)
        try await store.setIPAMCursor(subnetID: subnetID, ip.description, in: change.db)
        return ip
    }

    /// The address after `ip` in the pools, wrapping to the first pool's start.
    static func successor(of ip: IPAddress?, in pools: [AddressRange]) -> IPAddress {
        guard let ip else { return pools[0].start }
        for pool in pools {
            if ip < pool.start { return pool.start }
            if pool.contains(ip) && ip < pool.end { return ip.adding(1) }
        }
        return pools[0].start
    }
}
