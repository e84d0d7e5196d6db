import DriverConformance
import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// The linux backend against the kernel: real bridges, VXLAN devices and taps. They need root and
/// make devices, so they run only in the stage that gives them a network namespace of their own
/// (`MARTLET_NETWORK_TESTS=1`, see scripts/test-qemu.sh).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .serialized)
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
        try await backend.apply(network: network)
        let dhcpPort = Self.port(on: network, owner: "network:dhcp", mac: "fa:16:3e:00:00:02", ips: ["10.99.0.2"])
        try await backend.apply(port: dhcpPort)
        let server = Self.port(on: network, mac: "fa:16:3e:00:00:05", ips: ["10.99.0.5"])
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
        #expect(try String(contentsOfFile: hosts, encoding: .utf8) == "fa:16:3e:00:00:05,host-10-99-0-5,10.99.0.5\n")

        // What it has built, for a resync to compare with the database.
        let built = try await backend.inventory()
        #expect(built.networks == [network.id])
        #expect(built.ports == [server.id, dhcpPort.id])

        // Applying again changes nothing: the same dnsmasq runs on.
        try await backend.apply(network: network)
        try await backend.apply(port: dhcpPort)
        #expect(backend.dhcp.pid(network.id) == pid)

        try await backend.removePort(id: server.id)
        #expect(!FileManager.default.fileExists(atPath: hosts))
        try await backend.removePort(id: dhcpPort.id)
        #expect(backend.dhcp.pid(network.id) == nil, "dnsmasq outlived the DHCP port")
        try await backend.removeNetwork(id: network.id)
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(namespace)"))
        // Gone, or a zombie its new parent has yet to reap.
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
        #expect(state == nil || state == "Z", "dnsmasq still runs")
    }

    @Test func whatItCannotBuildIsSaidSoNotFaked() async throws {
        let vlan = Self.network("vlan", vni: 100)
        await #expect(throws: DriverError.unsupported("vlan networks are not wired by the linux backend yet")) { try await backend.apply(network: vlan) }
        await #expect(throws: DriverError.unsupported("ports of vlan networks are not wired by the linux backend yet")) {
            try await backend.apply(port: Self.port(on: vlan))
        }
        try await backend.removeNetwork(id: vlan.id)
        let network = Self.network("local", vni: nil)
        try await backend.apply(network: network)
        let routerPort = Self.port(on: network, owner: "network:router_interface")
        await #expect(throws: DriverError.self) { try await backend.apply(port: routerPort) }
        #expect(!Links.exists(DeviceNames.tap(port: routerPort.id)))
        try await backend.removeNetwork(id: network.id)
    }
}
