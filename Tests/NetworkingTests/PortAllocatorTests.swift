import Foundation
import MartletCore
import MartletTestSupport
import ServiceContracts
import Testing
@testable import Networking

@Suite struct PortAllocatorTests {
    @Test func serversGetBoundPortsAllOrNothingAndGiveThemBack() async throws {
        let cloud = try await networkCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "vm", password: "pw")
            let member = try await c.token("vm", "pw", project: m.projectName)
            let (net, subnet) = try await c.networkWithSubnet(member)
            let brought = try await c.create("ports", "port", member, ["network_id": .string(net), "name": "mine"])
            let broughtID = brought["id"]!.stringValue!
            let (foreignNet, _) = try await c.networkWithSubnet(admin, cidr: "10.8.0.0/24")
            let allocator: any PortAllocator = cloud.network
            let server = PortConsumer(deviceID: UUID().uuidString.lowercased(), projectID: m.project, host: "host-1")

            // Another project's private network, or an address already held, and nothing is made.
            await #expect(throws: APIError.self) {
                _ = try await allocator.allocate([PortRequest(networkID: net), PortRequest(networkID: foreignNet)], for: server)
            }
            await #expect(throws: APIError.self) {
                _ = try await allocator.allocate([PortRequest(networkID: net), PortRequest(networkID: net, fixedIP: brought["fixed_ips"]!.array[0]["ip_address"]!.stringValue!)], for: server)
            }
            #expect(try await c.call(.get, "/network/v2.0/ports", token: member)["ports"]?.array.count == 1)

            let ports = try await allocator.allocate([PortRequest(networkID: net, fixedIP: "10.0.0.77"), PortRequest(portID: broughtID)], for: server)
            #expect(ports.count == 2 && ports[0].fixedIPs.first?.address == "10.0.0.77" && ports[0].fixedIPs.first?.subnetID == subnet)
            #expect(ports.allSatisfy { $0.vifType == "bridge" && $0.mtu == 1450 && $0.networkID == net })
            await cloud.network.settle()
            let shown = try await c.call(.get, "/network/v2.0/ports/\(ports[0].id)", token: admin)["port"]
            #expect(shown?["binding:host_id"] == "host-1" && shown?["status"] == "ACTIVE" && shown?["device_owner"] == "compute:nova")
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.ports[broughtID]?.host == "host-1")
            let bound = cloud.fakeBackend.snapshot.ports.values.filter { $0.networkID == net && !$0.host.isEmpty }
            #expect(Set(bound.flatMap(\.fixedIPs)) == Set(ports.flatMap { $0.fixedIPs.map(\.address) }))
            #expect(Set(try await allocator.ports(of: server.ref).map(\.id)) == Set(ports.map(\.id)))

            try await allocator.rebind(server.ref, host: "host-2")
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.ports[ports[0].id]?.host == "host-2")

            try await allocator.release(server.ref, deleting: [ports[0].id])
            #expect(try await c.call(.get, "/network/v2.0/ports/\(ports[0].id)", token: member).status == .notFound)
            let kept = try await c.call(.get, "/network/v2.0/ports/\(broughtID)", token: admin)["port"]
            #expect(kept?["device_id"] == "" && kept?["binding:host_id"] == "" && kept?["status"] == "DOWN")
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.ports.isEmpty)
            #expect(try await allocator.ports(of: server.ref).isEmpty)
        }
    }
}

@Suite struct DataPlaneRetryTests {
    /// A port is DOWN until the data plane has wired it; a backend that fails twice is retried
    /// until it succeeds, and the port ends ACTIVE with no one asking again.
    @Test(arguments: TestBackend.available)
    func aPortBecomesActiveOnceTheDataPlaneRecovers(_ backend: TestBackend) async throws {
        let cloud = try await networkCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (net, _) = try await c.networkWithSubnet(admin)
            await cloud.network.settle()
            cloud.fakeBackend.failNext(2)
            let port = try await c.create("ports", "port", admin, ["network_id": .string(net), "binding:host_id": "fake-1"])
            let id = try #require(port["id"]?.stringValue)
            #expect(port["status"] == "DOWN")
            var status: JSON?
            for _ in 0..<300 {
                status = try await c.call(.get, "/network/v2.0/ports/\(id)", token: admin)["port"]?["status"]
                if status == "ACTIVE" { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(status == "ACTIVE")
            #expect(cloud.fakeBackend.snapshot.ports[id]?.host == "fake-1")
            // Unbinding takes it DOWN at once and off the host once applied.
            let unbound = try await c.call(.put, "/network/v2.0/ports/\(id)", token: admin, json: ["port": ["binding:host_id": ""]])
            #expect(unbound["port"]?["status"] == "DOWN")
            await cloud.network.settle()
            #expect(cloud.fakeBackend.snapshot.ports[id] == nil)
        }
    }
}
