/// The data plane behind the Networking API. The service decides (addresses, segments, rules);
/// a backend makes hosts match the decision. Every call carries the whole desired state of one
/// object, so calls are idempotent and a backend can converge after a restart by replaying them.
public protocol NetworkBackend: Sendable {
    /// The hosts whose data plane this backend runs. On each the service lists the agents Neutron
    /// would run there (L3, DHCP, Linux bridge, metadata): this backend does their work.
    var hosts: [String] { get }
    /// Whether it answers DHCP: the service then keeps a `network:dhcp` port on each network with
    /// DHCP, bound to the first host, as Neutron's DHCP agent does.
    var servesDHCP: Bool { get }
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
    /// What it has built on its hosts (its own: not what another program made), for a resync to
    /// remove what the database no longer has (a delete whose event a crash lost).
    func inventory() async throws -> DataPlaneInventory
}

/// The networks, ports and routers a backend has built, by ID.
public struct DataPlaneInventory: Sendable, Equatable {
    public var networks: Set<String>
    public var ports: Set<String>
    public var routers: Set<String>

    public init(networks: Set<String> = [], ports: Set<String> = [], routers: Set<String> = []) {
        self.networks = networks
        self.ports = ports
        self.routers = routers
    }
}

/// A network as the data plane builds it: the L2 segment and its subnets. The addresses DHCP hands
/// out are those of the network's bound ports, which reach the backend one `PortPlan` at a time
/// (a network plan listing every port would cost each port bind the whole network).
public struct NetworkPlan: Sendable, Equatable, Codable {
    public var id: String
    public var networkType: String
    public var physicalNetwork: String?
    public var segmentationID: Int?
    public var mtu: Int
    public var adminStateUp: Bool
    public var subnets: [SubnetPlan]

    public init(id: String, networkType: String, physicalNetwork: String?, segmentationID: Int?, mtu: Int, adminStateUp: Bool, subnets: [SubnetPlan]) {
        self.id = id
        self.networkType = networkType
        self.physicalNetwork = physicalNetwork
        self.segmentationID = segmentationID
        self.mtu = mtu
        self.adminStateUp = adminStateUp
        self.subnets = subnets
    }
}

public struct SubnetPlan: Sendable, Equatable, Codable {
    /// The `ipv6_address_mode`s whose addresses or settings come from DHCPv6 (SLAAC needs no server).
    public static let dhcpv6AddressModes: Set<String> = ["dhcpv6-stateful", "dhcpv6-stateless"]

    public var id: String
    public var cidr: String
    public var gatewayIP: String?
    public var allocationPools: [Pool]
    public var enableDHCP: Bool
    public var dnsNameservers: [String]
    public var hostRoutes: [Route]
    public var ipv6RAMode: String?
    public var ipv6AddressMode: String?
    /// A router has an interface on it: guests reach the metadata service through the router,
    /// not through the DHCP namespace.
    public var routed: Bool

    public init(id: String, cidr: String, gatewayIP: String?, allocationPools: [Pool], enableDHCP: Bool, dnsNameservers: [String], hostRoutes: [Route], ipv6RAMode: String?, ipv6AddressMode: String?, routed: Bool = false) {
        self.id = id
        self.cidr = cidr
        self.gatewayIP = gatewayIP
        self.allocationPools = allocationPools
        self.enableDHCP = enableDHCP
        self.dnsNameservers = dnsNameservers
        self.hostRoutes = hostRoutes
        self.ipv6RAMode = ipv6RAMode
        self.ipv6AddressMode = ipv6AddressMode
        self.routed = routed
    }
}

/// An inclusive range of addresses DHCP may hand out.
public struct Pool: Sendable, Equatable, Codable {
    public var start: String
    public var end: String

    public init(start: String, end: String) {
        self.start = start
        self.end = end
    }
}

public struct Route: Sendable, Equatable, Codable {
    public var destination: String
    public var nexthop: String

    public init(destination: String, nexthop: String) {
        self.destination = destination
        self.nexthop = nexthop
    }
}

/// A port on a host: what its tap device carries and which traffic its filters admit.
public struct PortPlan: Sendable, Equatable, Codable {
    public var id: String
    public var networkID: String
    public var host: String
    public var macAddress: String
    public var fixedIPs: [String]
    public var adminStateUp: Bool
    public var deviceOwner: String
    /// The server (or router, DHCP agent) the port belongs to.
    public var deviceID: String
    public var portSecurityEnabled: Bool
    public var securityGroupIDs: [String]
    /// Extra (MAC, IP or CIDR) pairs the anti-spoofing filter admits.
    public var allowedAddressPairs: [AddressPair]
    /// Neutron's `extra_dhcp_opts`: what DHCP tells this port besides its subnet's options.
    public var dhcpOptions: [DHCPOption]

    public init(id: String, networkID: String, host: String, macAddress: String, fixedIPs: [String], adminStateUp: Bool, deviceOwner: String, portSecurityEnabled: Bool, securityGroupIDs: [String], allowedAddressPairs: [AddressPair], deviceID: String = "", dhcpOptions: [DHCPOption] = []) {
        self.id = id
        self.networkID = networkID
        self.host = host
        self.macAddress = macAddress
        self.fixedIPs = fixedIPs
        self.adminStateUp = adminStateUp
        self.deviceOwner = deviceOwner
        self.deviceID = deviceID
        self.portSecurityEnabled = portSecurityEnabled
        self.securityGroupIDs = securityGroupIDs
        self.allowedAddressPairs = allowedAddressPairs
        self.dhcpOptions = dhcpOptions
    }
}

/// One of a port's `extra_dhcp_opts`: an option by name (`bootfile-name`) or number (`150`).
public struct DHCPOption: Sendable, Equatable, Codable {
    public var name: String
    public var value: String
    public var ipVersion: Int

    public init(name: String, value: String, ipVersion: Int = 4) {
        self.name = name
        self.value = value
        self.ipVersion = ipVersion
    }
}

public struct AddressPair: Sendable, Equatable, Codable {
    public var ipAddress: String
    public var macAddress: String

    public init(ipAddress: String, macAddress: String) {
        self.ipAddress = ipAddress
        self.macAddress = macAddress
    }
}

/// A router: its interfaces, its gateway with SNAT, static routes and the NAT of floating IPs.
public struct RouterPlan: Sendable, Equatable, Codable {
    public var id: String
    public var adminStateUp: Bool
    public var gateway: Gateway?
    public var interfaces: [Interface]
    public var routes: [Route]
    public var floatingIPs: [FloatingNAT]
    public var portForwardings: [PortForward]

    public init(id: String, adminStateUp: Bool, gateway: Gateway?, interfaces: [Interface], routes: [Route], floatingIPs: [FloatingNAT], portForwardings: [PortForward]) {
        self.id = id
        self.adminStateUp = adminStateUp
        self.gateway = gateway
        self.interfaces = interfaces
        self.routes = routes
        self.floatingIPs = floatingIPs
        self.portForwardings = portForwardings
    }

    public struct Gateway: Sendable, Equatable, Codable {
        public var networkID: String
        public var portID: String
        public var macAddress: String
        public var addresses: [String]
        public var enableSNAT: Bool

        public init(networkID: String, portID: String, macAddress: String, addresses: [String], enableSNAT: Bool) {
            self.networkID = networkID
            self.portID = portID
            self.macAddress = macAddress
            self.addresses = addresses
            self.enableSNAT = enableSNAT
        }
    }

    public struct Interface: Sendable, Equatable, Codable {
        public var portID: String
        public var networkID: String
        public var macAddress: String
        /// `10.0.0.1/24`: the router's address with its subnet's prefix.
        public var addresses: [String]
        /// The IPv6 subnets of this leg the router advertises (those with an `ipv6_ra_mode`).
        public var advertisements: [Advertisement]

        public init(portID: String, networkID: String, macAddress: String, addresses: [String], advertisements: [Advertisement] = []) {
            self.portID = portID
            self.networkID = networkID
            self.macAddress = macAddress
            self.addresses = addresses
            self.advertisements = advertisements
        }
    }

    /// A prefix in the router's advertisements, with Neutron's `ipv6_ra_mode` saying how hosts
    /// take addresses: `slaac` (from the prefix), `dhcpv6-stateful` (from DHCPv6) or
    /// `dhcpv6-stateless` (from the prefix, other settings from DHCPv6).
    public struct Advertisement: Sendable, Equatable, Codable {
        public var prefix: String
        public var mode: String
        public var dnsServers: [String]

        public init(prefix: String, mode: String, dnsServers: [String] = []) {
            self.prefix = prefix
            self.mode = mode
            self.dnsServers = dnsServers
        }
    }

    public struct FloatingNAT: Sendable, Equatable, Codable {
        public var floatingIP: String
        public var fixedIP: String
        public var portID: String

        public init(floatingIP: String, fixedIP: String, portID: String) {
            self.floatingIP = floatingIP
            self.fixedIP = fixedIP
            self.portID = portID
        }
    }

    public struct PortForward: Sendable, Equatable, Codable {
        public var floatingIP: String
        public var proto: String
        public var externalPort: Int
        public var internalIP: String
        public var internalPort: Int

        public init(floatingIP: String, proto: String, externalPort: Int, internalIP: String, internalPort: Int) {
            self.floatingIP = floatingIP
            self.proto = proto
            self.externalPort = externalPort
            self.internalIP = internalIP
            self.internalPort = internalPort
        }
    }
}

/// A security group's rules. Its members are the bound ports whose `PortPlan` names it; their
/// addresses are what a `remote_group_id` rule admits.
public struct SecurityGroupPlan: Sendable, Equatable, Codable {
    public var id: String
    public var stateful: Bool
    public var rules: [Rule]

    public init(id: String, stateful: Bool, rules: [Rule]) {
        self.id = id
        self.stateful = stateful
        self.rules = rules
    }

    public struct Rule: Sendable, Equatable, Codable {
        public var id: String
        public var direction: String
        public var ethertype: String
        public var proto: String?
        public var portRangeMin: Int?
        public var portRangeMax: Int?
        public var remoteIPPrefix: String?
        public var remoteGroupID: String?

        public init(id: String, direction: String, ethertype: String, proto: String?, portRangeMin: Int?, portRangeMax: Int?, remoteIPPrefix: String?, remoteGroupID: String?) {
            self.id = id
            self.direction = direction
            self.ethertype = ethertype
            self.proto = proto
            self.portRangeMin = portRangeMin
            self.portRangeMax = portRangeMax
            self.remoteIPPrefix = remoteIPPrefix
            self.remoteGroupID = remoteGroupID
        }
    }
}
