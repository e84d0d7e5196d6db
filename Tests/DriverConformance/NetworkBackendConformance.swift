import DriverKit

/// What every `NetworkBackend` must do: calls carry whole desired states, so applying one twice
/// and removing what is already gone succeed.
public enum NetworkBackendConformance {
    public static let checks: [ConformanceCheck<any NetworkBackend>] = [
        .init("wires hosts and names their vif type") { backend in
            try expect(!backend.hosts.isEmpty, "the backend wires no host")
            for host in backend.hosts { try expect(!backend.vifType(host: host).isEmpty, "no vif type on \(host)") }
        },
        .init("network, port, router and security group apply and remove idempotently") { backend in
            let host = backend.hosts.first ?? ""
            let network = NetworkPlan(id: "c0ffee00-0000-4000-8000-00000000n001", networkType: "local", physicalNetwork: nil,
                                      segmentationID: nil, mtu: 1450, adminStateUp: true,
                                      subnets: [SubnetPlan(id: "c0ffee00-0000-4000-8000-00000000s001", cidr: "10.250.0.0/24",
                                                           gatewayIP: "10.250.0.1", allocationPools: [Pool(start: "10.250.0.2", end: "10.250.0.254")],
                                                           enableDHCP: true, dnsNameservers: [], hostRoutes: [], ipv6RAMode: nil,
                                                           ipv6AddressMode: nil)])
            let group = SecurityGroupPlan(id: "c0ffee00-0000-4000-8000-00000000g001", stateful: true, rules: [
                .init(id: "c0ffee00-0000-4000-8000-00000000r001", direction: "ingress", ethertype: "IPv4", proto: "tcp",
                      portRangeMin: 22, portRangeMax: 22, remoteIPPrefix: "0.0.0.0/0", remoteGroupID: nil),
            ])
            let port = PortPlan(id: "c0ffee00-0000-4000-8000-00000000p001", networkID: network.id, host: host, macAddress: "fa:16:3e:00:00:02",
                                fixedIPs: ["10.250.0.5"], adminStateUp: true, deviceOwner: "compute:nova", portSecurityEnabled: true,
                                securityGroupIDs: [group.id], allowedAddressPairs: [])
            let router = RouterPlan(id: "c0ffee00-0000-4000-8000-00000000x001", adminStateUp: true, gateway: nil,
                                    interfaces: [.init(portID: "c0ffee00-0000-4000-8000-00000000p002", networkID: network.id,
                                                       macAddress: "fa:16:3e:00:00:03", addresses: ["10.250.0.1/24"])],
                                    routes: [], floatingIPs: [], portForwardings: [])
            for _ in 0..<2 {
                try await backend.apply(network: network)
                try await backend.apply(securityGroup: group)
                try await backend.apply(port: port)
                try await backend.apply(router: router)
            }
            for _ in 0..<2 {
                try await backend.removeRouter(id: router.id)
                try await backend.removePort(id: port.id)
                try await backend.removeSecurityGroup(id: group.id)
                try await backend.removeNetwork(id: network.id)
            }
        },
        .init("removing what was never applied succeeds") { backend in
            try await backend.removePort(id: "c0ffee00-0000-4000-8000-00000000dead")
            try await backend.removeRouter(id: "c0ffee00-0000-4000-8000-00000000dead")
            try await backend.removeSecurityGroup(id: "c0ffee00-0000-4000-8000-00000000dead")
            try await backend.removeNetwork(id: "c0ffee00-0000-4000-8000-00000000dead")
        },
    ]
}
