import ServiceContracts

/// A server's `addresses` as Nova shows them once Neutron's events have refreshed its network
/// info cache: each port's fixed addresses as Networking has them now (a SLAAC subnet added to
/// the network brings one), under the network and MAC recorded with the server, each followed by
/// the floating IPs associated with it. A port Networking no longer has shows what was recorded.
extension ComputeService {
    func withLiveAddresses(_ servers: [Server]) async throws -> [Server] {
        let ports = Array(Set(servers.flatMap { $0.addresses.map(\.portID) }))
        guard !ports.isEmpty else { return servers }
        let live = try await self.ports.addresses(ofPorts: ports)
        let floating = Dictionary(grouping: live.floating, by: \.portID)
        return servers.map { server in
            var s = server
            var shown: Set<String> = []
            s.addresses = server.addresses.flatMap { recorded -> [ServerAddress] in
                // Each port once, where its first address was recorded.
                guard recorded.type == "fixed", shown.insert(recorded.portID).inserted else { return [] }
                let fixed = live.fixed[recorded.portID].map { ips in
                    ips.map { ServerAddress(network: recorded.network, address: $0, version: $0.contains(":") ? 6 : 4, mac: recorded.mac,
                                            type: "fixed", portID: recorded.portID) }
                } ?? server.addresses.filter { $0.portID == recorded.portID && $0.type == "fixed" }
                return fixed.flatMap { address in
                    [address] + (floating[address.portID] ?? []).filter { $0.fixedIP == nil || $0.fixedIP == address.address }.map {
                        ServerAddress(network: address.network, address: $0.floatingIP, version: $0.floatingIP.contains(":") ? 6 : 4,
                                      mac: address.mac, type: "floating", portID: address.portID)
                    }
                }
            }
            return s
        }
    }

    func withLiveAddresses(_ server: Server) async throws -> Server { try await withLiveAddresses([server])[0] }
}
