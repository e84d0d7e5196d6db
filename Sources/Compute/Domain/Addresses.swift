import ServiceContracts


/// A server's `addresses` as Nova shows them: the fixed addresses recorded with the server, each
/// followed by the floating IPs that Networking associates with it now (Nova's network info cache,
/// refreshed by Neutron's events; here read when the server is shown).
extension ComputeService {
    func withFloatingIPs(_ servers: [Server]) async throws -> [Server] {
        let ports = Array(Set(servers.flatMap { $0.addresses.map(\.portID) }))
        let floating = Dictionary(grouping: try await self.ports.floatingIPs(ofPorts: ports), by: \.portID)
        guard !floating.isEmpty else { return servers }
        return servers.map { server in
            var s = server
            s.addresses = server.addresses.flatMap { fixed -> [ServerAddress] in
                guard fixed.type == "fixed", let leading = floating[fixed.portID] else { return [fixed] }
                let matching = leading.filter { $0.fixedIP == nil || $0.fixedIP == fixed.address }
                return [fixed] + matching.map {
                    ServerAddress(network: fixed.network, address: $0.floatingIP, version: $0.floatingIP.contains(":") ? 6 : 4,
                                  mac: fixed.mac, type: "floating", portID: fixed.portID)
                }
            }
            return s
        }
    }

    func withFloatingIPs(_ server: Server) async throws -> Server { try await withFloatingIPs([server])[0] }
}
