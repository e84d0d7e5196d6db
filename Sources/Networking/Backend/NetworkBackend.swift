/// The data plane behind the Networking API. The service decides (addresses, segments, rules);
/// a backend makes hosts match the decision. Every call carries the whole desired state of one
/// object, so calls are idempotent and a backend can converge after a restart by replaying them.
public protocol NetworkBackend: Sendable {
    /// The hosts whose data plane this backend runs. On each the service lists the agents Neutron
    /// would run there (L3, DHCP, Linux bridge, metadata): this backend does their work.
    var hosts: [String] { get }
    /// The `binding:vif_type` ports bound to `host` get (`unbound` is the service's own).
    func vifType(host: String) -> String
    func apply(network: NetworkPlan) async throws
    func removeNetwork(id: String) async throws
    /// Wires a port bound to a host.
    func apply(port: PortPlan) async throws
    func removePort(id: String) async throws
    func apply(router: RouterPlan) async throws
    func removeRouter(id: String) async throws
    func apply(securityGroup: SecurityGroupPlan) async throws
    func removeSecurityGroup(id: String) async throws
}

/// A network as the data plane builds it: the L2 segment and its subnets. The addresses DHCP hands
/// out are those of the network's bound ports, which reach the backend one `PortPlan` at a time
/// (a network plan listing every port would cost each port bind the whole network).
public struct NetworkPlan: Sendable, Equatable {
    public var id: String
    public var networkType: String
    public var physicalNetwork: String?
    public var segmentationID: Int?
    public var mtu: Int
    public var adminStateUp: Bool
    public var subnets: [SubnetPlan]
}

public struct SubnetPlan: Sendable, Equatable {
    public var id: String
    public var cidr: String
    public var gatewayIP: String?
    public var allocationPools: [Pool]
    public var enableDHCP: Bool
    public var dnsNameservers: [String]
    public var hostRoutes: [Route]
    public var ipv6RAMode: String?
    public var ipv6AddressMode: String?
}

/// An inclusive range of addresses DHCP may hand out.
public struct Pool: Sendable, Equatable {
    public var start: String
    public var end: String
}

public struct Route: Sendable, Equatable {
    public var destination: String
    public var nexthop: String
}

/// A port on a host: what its tap device carries and which traffic its filters admit.
public struct PortPlan: Sendable, Equatable {
    public var id: String
    public var networkID: String
    public var host: String
    public var macAddress: String
    public var fixedIPs: [String]
    public var adminStateUp: Bool
    public var deviceOwner: String
    public var portSecurityEnabled: Bool
    public var securityGroupIDs: [String]
    /// Extra (MAC, IP or CIDR) pairs the anti-spoofing filter admits.
    public var allowedAddressPairs: [AddressPair]
}

public struct AddressPair: Sendable, Equatable {
    public var ipAddress: String
    public var macAddress: String
}

/// A router: its interfaces, its gateway with SNAT, static routes and the NAT of floating IPs.
public struct RouterPlan: Sendable, Equatable {
    public var id: String
    public var adminStateUp: Bool
    public var gateway: Gateway?
    public var interfaces: [Interface]
    public var routes: [Route]
    public var floatingIPs: [FloatingNAT]
    public var portForwardings: [PortForward]

    public struct Gateway: Sendable, Equatable {
        public var networkID: String
        public var portID: String
        public var macAddress: String
        public var addresses: [String]
        public var enableSNAT: Bool
    }

    public struct Interface: Sendable, Equatable {
        public var portID: String
        public var networkID: String
        public var macAddress: String
        /// `10.0.0.1/24`: the router's address with its subnet's prefix.
        public var addresses: [String]
    }

    public struct FloatingNAT: Sendable, Equatable {
        public var floatingIP: String
        public var fixedIP: String
        public var portID: String
    }

    public struct PortForward: Sendable, Equatable {
        public var floatingIP: String
        public var proto: String
        public var externalPort: Int
        public var internalIP: String
        public var internalPort: Int
    }
}

/// A security group's rules. Its members are the bound ports whose `PortPlan` names it; their
/// addresses are what a `remote_group_id` rule admits.
public struct SecurityGroupPlan: Sendable, Equatable {
    public var id: String
    public var stateful: Bool
    public var rules: [Rule]

    public struct Rule: Sendable, Equatable {
        public var id: String
        public var direction: String
        public var ethertype: String
        public var proto: String?
        public var portRangeMin: Int?
        public var portRangeMax: Int?
        public var remoteIPPrefix: String?
        public var remoteGroupID: String?
    }
}
