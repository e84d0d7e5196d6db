import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// The linux backend against the kernel: real bridges, VXLAN devices and taps. They need root and
/// make devices, so they run only in the stage that gives them a network namespace of their own
/// (`MARTLET_NETWORK_TESTS=1`, see scripts/test-qemu.sh).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .serialized)
struct LinuxNetworkTests {
    let backend = LinuxNetworkBackend(host: "net-test")

    static func network(_ type: String = "vxlan", vni: Int? = 4242, mtu: Int = 1450) -> NetworkPlan {
        NetworkPlan(id: UUID().uuidString.lowercased(), networkType: type, physicalNetwork: nil, segmentationID: vni, mtu: mtu,
                    adminStateUp: true, subnets: [])
    }

    static func port(on network: NetworkPlan, owner: String = "compute:nova", up: Bool = true) -> PortPlan {
        PortPlan(id: UUID().uuidString.lowercased(), networkID: network.id, host: "net-test", macAddress: "fa:16:3e:00:00:01",
                 fixedIPs: [], adminStateUp: up, deviceOwner: owner, portSecurityEnabled: true, securityGroupIDs: [], allowedAddressPairs: [])
    }

    static func sys(_ device: String, _ attribute: String) -> String? {
        (try? String(contentsOfFile: "/sys/class/net/\(device)/\(attribute)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func master(_ device: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/class/net/\(device)/master")).map { URL(fileURLWithPath: $0).lastPathComponent }
    }

    @Test func aVXLANNetworkIsABridgeWithItsTunnelAndItsPortsTaps() async throws {
        let network = Self.network()
        try await backend.apply(network: network)
        try await backend.apply(network: network)  // again: nothing changes
        let bridge = DeviceNames.bridge(network: network.id)
        #expect(Self.sys(bridge, "mtu") == "1450")
        #expect(Self.master("vxlan-4242") == bridge)
        #expect(Self.sys("vxlan-4242", "mtu") == "1450")

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
        #expect(!Links.exists(bridge) && !Links.exists("vxlan-4242"))
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

    @Test func whatItCannotBuildIsSaidSoNotFaked() async throws {
        let vlan = Self.network("vlan", vni: 100)
        await #expect(throws: DriverError.unsupported("vlan networks are not wired by the linux backend yet")) { try await backend.apply(network: vlan) }
        let network = Self.network("local", vni: nil)
        try await backend.apply(network: network)
        let dhcp = Self.port(on: network, owner: "network:dhcp")
        await #expect(throws: DriverError.self) { try await backend.apply(port: dhcp) }
        #expect(!Links.exists(DeviceNames.tap(port: dhcp.id)))
        try await backend.removeNetwork(id: network.id)
    }
}
