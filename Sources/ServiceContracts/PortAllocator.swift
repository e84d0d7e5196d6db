import MartletCore

/// What Compute asks of Networking, in process: ports for a server, bound to its host, and
/// released when the server goes.
public protocol PortAllocator: Sendable {
    /// Makes (or adopts) one port per request for the server and binds them to its host.
    /// All or nothing: on any failure no port is made, adopted or bound.
    func allocate(_ requests: [PortRequest], for server: PortConsumer) async throws -> [AllocatedPort]
    /// The server's ports, by id (Compute keeps the order of its interfaces). A server's ports are
    /// those of its project naming it as their device, as Nova asks Neutron: another project's port
    /// claiming the device is never one of them.
    func ports(of server: ServerRef) async throws -> [AllocatedPort]
    /// Moves the server's ports to another host (resize, migration).
    func rebind(_ server: ServerRef, host: String) async throws
    /// Deletes the server's ports named in `deleting` (those made for it) and detaches the others
    /// (those the user brought), unbinding them.
    func release(_ server: ServerRef, deleting: Set<String>) async throws
    /// Releases one port of the server: deleted when `delete`, else detached.
    func detach(portID: String, from server: ServerRef, delete: Bool) async throws
    /// The networks a server of the project may join when it names none: its own and shared ones,
    /// not external ones.
    func availableNetworks(projectID: String) async throws -> [String]
    /// Checks, without changing anything, that the requests name networks and free ports the
    /// project may use: a create can then be refused before it is accepted.
    func check(_ requests: [PortRequest], projectID: String) async throws
    /// The security groups (by name or id) the project may put its ports in; the first unknown one is thrown.
    func checkSecurityGroups(_ names: [String], projectID: String) async throws
    /// These ports' fixed addresses now and the floating IPs associated with them: a server's
    /// `addresses` show them as they are, as Nova's cache shows them once Neutron's events have
    /// refreshed it.
    func addresses(ofPorts portIDs: [String]) async throws -> PortAddresses
    /// Waits until the data plane has wired each of these ports (`ACTIVE`), as Nova waits for
    /// Neutron's `network-vif-plugged`; false when `timeout` passes first. Ports that are down by
    /// their admin state, or deleted meanwhile, are not waited for.
    func waitUntilWired(_ portIDs: [String], timeout: Duration) async throws -> Bool
}

/// What `addresses(ofPorts:)` found: each existing port's fixed addresses, and the floating IPs.
public struct PortAddresses: Sendable, Equatable {
    public var fixed: [String: [String]]
    public var floating: [FloatingAddress]

    public init(fixed: [String: [String]] = [:], floating: [FloatingAddress] = []) {
        self.fixed = fixed
        self.floating = floating
    }
}

/// A floating IP and the fixed address of the port it leads to.
public struct FloatingAddress: Sendable, Equatable {
    public var portID: String
    public var fixedIP: String?
    public var floatingIP: String

    public init(portID: String, fixedIP: String?, floatingIP: String) {
        self.portID = portID
        self.fixedIP = fixedIP
        self.floatingIP = floatingIP
    }
}

/// Why `check` refused a request.
public enum PortRequestProblem: Error, Sendable {
    case networkNotFound(String)
    case portNotFound(String)
    case portInUse(String)
    case securityGroupNotFound(String)
}

/// One network interface a server asks for: a network (optionally with a fixed IP) or an existing port.
public struct PortRequest: Sendable, Equatable {
    public var networkID: String?
    public var portID: String?
    public var fixedIP: String?
    /// Group ids or names; nil means the project's default group.
    public var securityGroups: [String]?

    public init(networkID: String? = nil, portID: String? = nil, fixedIP: String? = nil, securityGroups: [String]? = nil) {
        self.networkID = networkID
        self.portID = portID
        self.fixedIP = fixedIP
        self.securityGroups = securityGroups
    }
}

/// A server as its ports name it: the device and the project that owns both.
public struct ServerRef: Sendable, Equatable {
    public var deviceID: String
    public var projectID: String

    public init(deviceID: String, projectID: String) {
        self.deviceID = deviceID
        self.projectID = projectID
    }
}

/// The server a port is for.
public struct PortConsumer: Sendable, Equatable {
    public var deviceID: String
    public var projectID: String
    public var host: String
    public var availabilityZone: String

    public init(deviceID: String, projectID: String, host: String, availabilityZone: String = "nova") {
        self.deviceID = deviceID
        self.projectID = projectID
        self.host = host
        self.availabilityZone = availabilityZone
    }

    public var ref: ServerRef { ServerRef(deviceID: deviceID, projectID: projectID) }
}

/// A bound port as a hypervisor and the server's `addresses` need it.
public struct AllocatedPort: Sendable, Equatable {
    public var id: String
    public var networkID: String
    public var networkName: String
    public var macAddress: String
    public var fixedIPs: [(subnetID: String, address: String)]
    public var mtu: Int
    public var vifType: String

    public init(id: String, networkID: String, networkName: String, macAddress: String,
                fixedIPs: [(subnetID: String, address: String)], mtu: Int, vifType: String) {
        self.id = id
        self.networkID = networkID
        self.networkName = networkName
        self.macAddress = macAddress
        self.fixedIPs = fixedIPs
        self.mtu = mtu
        self.vifType = vifType
    }

    public static func == (a: AllocatedPort, b: AllocatedPort) -> Bool {
        a.id == b.id && a.networkID == b.networkID && a.macAddress == b.macAddress && a.mtu == b.mtu
            && a.vifType == b.vifType && a.fixedIPs.map { [$0.subnetID, $0.address] } == b.fixedIPs.map { [$0.subnetID, $0.address] }
    }
}

