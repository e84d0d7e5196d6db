import DriverConformance
import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// The linux backend against the kernel: real bridges, VXLAN devices and taps. They need root and
/// make devices, so they run only in the stage that gives them a network namespace of their own
/// (`MARTLET_NETWORK_TESTS=1`, see scripts/test-qemu.sh).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .oneBackendAtATime)
struct LinuxNetworkTests {
    static let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-net-\(getpid())").path
    let backend = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime)

    static func network(_ type: String = "vxlan", vni: Int? = 4242, mtu: Int = 1450, subnets: [SubnetPlan] = []) -> NetworkPlan {
        NetworkPlan(id: UUID().uuidString.lowercased(), networkType: type, physicalNetwork: nil, segmentationID: vni, mtu: mtu,
                    adminStateUp: true, subnets: subnets)
    }

    static func port(on network: NetworkPlan, owner: String = "compute:nova", up: Bool = true, mac: String = "fa:16:3e:00:00:01",
                     ips: [String] = []) -> PortPlan {
        PortPlan(id: UUID().uuidString.lowercased(), networkID: network.id, host: "net-test", macAddress: mac,
                 fixedIPs: ips, adminStateUp: up, deviceOwner: owner, portSecurityEnabled: true, securityGroupIDs: [], allowedAddressPairs: [])
    }

    @Test(arguments: NetworkBackendConformance.checks)
    func conformance(_ check: ConformanceCheck<any NetworkBackend>) async throws {
        try await check.run(backend)
    }

    static func sys(_ device: String, _ attribute: String) -> String? {
        (try? String(contentsOfFile: "/sys/class/net/\(device)/\(attribute)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func sysctl(_ name: String) -> String? {
        (try? String(contentsOfFile: "/proc/sys/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func master(_ device: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/class/net/\(device)/master")).map { URL(fileURLWithPath: $0).lastPathComponent }
    }

    @Test func aNetworkIsABridgeWithItsPortsTapsAndNoAddressOfTheHost() async throws {
        let network = Self.network()
        try await backend.apply(network: network)
        try await backend.apply(network: network)  // again: nothing changes
        let bridge = DeviceNames.bridge(network: network.id)
        #expect(Self.sys(bridge, "mtu") == "1450")
        #expect(Self.sysctl("net/ipv6/conf/\(bridge)/disable_ipv6") == "1", "the bridge gives the host an IPv6 address guests reach")
        // No VXLAN device on one host: its socket would take frames from anyone on UDP 4789.
        #expect(!Links.exists("vxlan-4242"))

        let port = Self.port(on: network)
        try await backend.apply(port: port)
        try await backend.apply(port: port)
        let tap = DeviceNames.tap(port: port.id)
        #expect(Self.master(tap) == bridge)
        #expect(Self.sys(tap, "mtu") == "1450")

        try await backend.removePort(id: port.id)
        try await backend.removePort(id: port.id)
        #expect(!Links.exists(tap))
        try await backend.removeNetwork(id: network.id)
        try await backend.removeNetwork(id: network.id)
        #expect(!Links.exists(bridge))
    }

    @Test func aPortWaitsForItsNetworkAndAnAdminDownPortIsDown() async throws {
        let network = Self.network("local", vni: nil, mtu: 1500)
        let port = Self.port(on: network, up: false)
        await #expect(throws: DriverError.self) { try await backend.apply(port: port) }
        try await backend.apply(network: network)
        try await backend.apply(port: port)
        let tap = DeviceNames.tap(port: port.id)
        #expect(Self.sys(tap, "flags").flatMap { Int($0.dropFirst(2), radix: 16) }.map { $0 & 1 == 0 } == true, "an admin-down port's tap is up")
        try await backend.removePort(id: port.id)
        try await backend.removeNetwork(id: network.id)
    }

    @Test func dhcpIsADnsmasqInTheNetworksNamespaceThatKnowsEachPort() async throws {
        let subnet = SubnetPlan(id: UUID().uuidString.lowercased(), cidr: "10.99.0.0/24", gatewayIP: "10.99.0.1",
                                allocationPools: [Pool(start: "10.99.0.2", end: "10.99.0.254")], enableDHCP: true,
                                dnsNameservers: ["10.99.0.53"], hostRoutes: [], ipv6RAMode: nil, ipv6AddressMode: nil)
        let network = Self.network(subnets: [subnet])
        // The DHCP port wired while the network has no subnet yet (events may come in that order):
        // the subnet's arrival gives its interface the address dnsmasq answers through.
        var bare = network
        bare.subnets = []
        try await backend.apply(network: bare)
        let dhcpPort = Self.port(on: network, owner: "network:dhcp", mac: "fa:16:3e:00:00:02", ips: ["10.99.0.2"])
        try await backend.apply(port: dhcpPort)
        try await backend.apply(network: network)
        var server = Self.port(on: network, mac: "fa:16:3e:00:00:05", ips: ["10.99.0.5"])
        server.dhcpOptions = [DHCPOption(name: "bootfile-name", value: "pxelinux.0"), DHCPOption(name: "252", value: "\"http://10.99.0.9/wpad.dat\"")]
        let guest = try await Guest.make(server)
        // Removed on every path, failures included (a `defer` cannot wait for it).
        do {
            try await backend.apply(port: server)

            let namespace = "qdhcp-\(network.id)"
            let inside = try await HostCommand.run(["ip", "-n", namespace, "-br", "addr", "show", "dev", DeviceNames.dhcpInterface(port: dhcpPort.id)])
            #expect(inside.contains("10.99.0.2/24"), "\(inside)")
            let pid = try #require(backend.dhcp.pid(network.id), "dnsmasq is not running")
            #expect(try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).contains("--dhcp-range=set:subnet-\(subnet.id),10.99.0.0,static,255.255.255.0"))
            // dnsmasq runs in the network's namespace, not the host's.
            let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net") != own)
            let hosts = "\(backend.dhcp.folder(network.id))/hosts/\(server.id)"
            #expect(try String(contentsOfFile: hosts, encoding: .utf8) == "fa:16:3e:00:00:05,set:port-\(server.id),host-10-99-0-5,10.99.0.5\n")
            // A guest's DHCP client gets its address, its subnet's options and its port's own.
            let lease = await guest.dhcpLease(asking: ["bootfile", "252", "mtu"])
            #expect(lease["ip"] == "10.99.0.5" && lease["router"] == "10.99.0.1" && lease["dns"] == "10.99.0.53" && lease["mtu"] == "1450", "\(lease)")
            #expect(lease["bootfile"] == "pxelinux.0" && lease["wpad"] == "http://10.99.0.9/wpad.dat", "\(lease)")

            // What it has built, for a resync to compare with the database.
            let built = try await backend.inventory()
            #expect(built.networks == [network.id])
            #expect(built.ports == [server.id, dhcpPort.id])

            // Applying again changes nothing: the same dnsmasq runs on.
            try await backend.apply(network: network)
            try await backend.apply(port: dhcpPort)
            #expect(backend.dhcp.pid(network.id) == pid)

            // A changed option reaches the next lease; removing a leased port leaves a dnsmasq
            // serving (a SIGHUP made dnsmasq 2.90 abort once it had leased to a tagged entry).
            server.dhcpOptions[0].value = "grub.efi"
            try await backend.apply(port: server)
            #expect(await guest.dhcpLease(asking: ["bootfile"])["bootfile"] == "grub.efi")
            try await backend.removePort(id: server.id)
            #expect(!FileManager.default.fileExists(atPath: hosts))
            #expect(backend.dhcp.pid(network.id) != nil, "dnsmasq did not outlive a port's removal")
            try await backend.removePort(id: dhcpPort.id)
            #expect(backend.dhcp.pid(network.id) == nil, "dnsmasq outlived the DHCP port")
            try await backend.removeNetwork(id: network.id)
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(namespace)"))
            // Gone, or a zombie its new parent has yet to reap.
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
            #expect(state == nil || state == "Z", "dnsmasq still runs")
        } catch {
            Issue.record(error)
        }
        await guest.remove()
        for port in [server.id, dhcpPort.id] { try? await backend.removePort(id: port) }
        try? await backend.removeNetwork(id: network.id)
    }

    @Test func whatItCannotBuildIsSaidSoNotFaked() async throws {
        var vlan = Self.network("vlan", vni: 100)
        vlan.physicalNetwork = "physnet9"
        let unmapped = DriverError.unsupported("no host interface is mapped to physical network physnet9 (physical_interface_mappings)")
        await #expect(throws: unmapped) { try await backend.apply(network: vlan) }
        await #expect(throws: unmapped) { try await backend.apply(port: Self.port(on: vlan)) }
        try await backend.removeNetwork(id: vlan.id)
        let network = Self.network("local", vni: nil)
        try await backend.apply(network: network)
        let routerPort = Self.port(on: network, owner: "network:router_interface")
        await #expect(throws: DriverError.self) { try await backend.apply(port: routerPort) }
        #expect(!Links.exists(DeviceNames.tap(port: routerPort.id)))
        try await backend.removeNetwork(id: network.id)
    }

    /// A flat and a vlan network on a mapped interface (a veth whose other end is in a namespace
    /// standing in for the physical switch): the flat network's guest reaches the switch untagged,
    /// the vlan network's guest reaches it on VLAN 42 and not untagged. A kernel without 802.1Q
    /// (this CI's) is said so, and the vlan network's port is not wired.
    @Test func providerNetworksReachTheirPhysicalNetwork() async throws {
        let switchNamespace = "mt-sw-\(getpid())"
        let provider = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime + "-provider", interfaceMappings: "physnet1:mtphys0")
        var flat = Self.network("flat", vni: nil, mtu: 1500), vlan = Self.network("vlan", vni: 42, mtu: 1500)
        flat.physicalNetwork = "physnet1"
        vlan.physicalNetwork = "physnet1"
        func port(_ network: NetworkPlan, _ ip: String, _ last: Int) -> PortPlan {
            PortPlan(id: UUID().uuidString.lowercased(), networkID: network.id, host: "net-test", macAddress: String(format: "fa:16:3e:00:94:%02x", last),
                     fixedIPs: [ip], adminStateUp: true, deviceOwner: "compute:nova", portSecurityEnabled: false, securityGroupIDs: [], allowedAddressPairs: [])
        }
        let onFlat = port(flat, "10.94.0.10", 1), onVLAN = port(vlan, "10.94.42.10", 2)
        var guests: [Guest] = []
        do {
            try await HostCommand.run(["ip", "netns", "add", switchNamespace])
            try await HostCommand.run(["ip", "link", "add", "mtphys0", "type", "veth", "peer", "name", "eth0", "netns", switchNamespace])
            for command in [["link", "set", "eth0", "up"], ["address", "add", "10.94.0.1/24", "dev", "eth0"], ["address", "add", "10.94.42.2/24", "dev", "eth0"]] {
                try await HostCommand.run(["ip", "-n", switchNamespace] + command)
            }
            let vlans = (try? await HostCommand.run(["ip", "-n", switchNamespace, "link", "add", "link", "eth0", "name", "eth0.42", "type", "vlan", "id", "42"])) != nil
            try await provider.apply(network: flat)
            // One at a time: a guest made before a later one fails is still removed below.
            guests.append(try await Guest.make(onFlat))
            guests.append(try await Guest.make(onVLAN))
            try await provider.apply(port: onFlat)
            #expect(Self.master("mtphys0") == DeviceNames.bridge(network: flat.id))
            #expect(await eventually { await guests[0].pings("10.94.0.1") }, "the flat network does not reach its physical network")
            if vlans {
                for command in [["link", "set", "eth0.42", "up"], ["address", "add", "10.94.42.1/24", "dev", "eth0.42"]] {
                    try await HostCommand.run(["ip", "-n", switchNamespace] + command)
                }
                try await provider.apply(network: vlan)
                try await provider.apply(port: onVLAN)
                #expect(Self.master("mtphys0.42") == DeviceNames.bridge(network: vlan.id))
                #expect(await eventually { await guests[1].pings("10.94.42.1") }, "the vlan network does not reach VLAN 42")
                #expect(await !guests[1].pings("10.94.42.2"), "the vlan network's frames leave untagged")
            } else {
                await #expect(throws: Uplinks.noVLANs) { try await provider.apply(network: vlan) }
                await #expect(throws: DriverError.self) { try await provider.apply(port: onVLAN) }
            }

            try await provider.removeNetwork(id: vlan.id)
            #expect(!Links.exists("mtphys0.42"))
            try await provider.removeNetwork(id: flat.id)
            #expect(Self.master("mtphys0") == nil)
        } catch {
            Issue.record(error)
        }
        for guest in guests { await guest.remove() }
        for port in [onFlat, onVLAN] { try? await provider.removePort(id: port.id) }
        for network in [flat, vlan] { try? await provider.removeNetwork(id: network.id) }
        _ = try? await HostCommand.output(["ip", "netns", "delete", switchNamespace])
        await provider.dropTables()
        try? FileManager.default.removeItem(atPath: Self.runtime + "-provider")
    }
}
