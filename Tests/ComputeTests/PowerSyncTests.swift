@testable import Compute
import DriverKit
import Foundation
import MartletCore
import Testing

/// What hosts see wins over what the database says, for servers at rest; what hosts have of no
/// server goes.
@Suite struct PowerSyncTests {
    @Test func aGuestThatStopsOrDiesBehindTheAPIIsShutOffAndADeathLeavesAFault() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            var ids: [String] = []
            for name in ["powered-off", "died"] {
                ids.append(try #require(try await c.boot(admin, name: name, image: image, network: network)["server"]?["id"]?.stringValue))
            }
            await cloud.compute.settle()
            let hypervisor = cloud.compute.hypervisor as! FakeHypervisor
            let host = try #require(try await c.server(admin, ids[0])?["OS-EXT-SRV-ATTR:host"]?.stringValue)
            let otherHost = try #require(try await c.server(admin, ids[1])?["OS-EXT-SRV-ATTR:host"]?.stringValue)
            try await hypervisor.setPower(ids[0], host: host, .stop)
            hypervisor.crash(ids[1])
            for id in ids { try await PowerSync.sync(id, cloud.compute) }
            let off = try #require(try await c.server(admin, ids[0]))
            #expect(off["status"]?.stringValue == "SHUTOFF" && off["fault"] == nil)
            let died = try #require(try await c.server(admin, ids[1]))
            #expect(died["status"]?.stringValue == "SHUTOFF")
            // The stop is the server's latest action, and the death its event's error.
            let actions = try await c.call(.get, "/compute/v2.1/servers/\(ids[1])/os-instance-actions", token: admin)
            let stop = try #require(actions["instanceActions"]?.array.first)
            #expect(stop["action"]?.stringValue == "stop" && stop["message"]?.stringValue == "Error", "\(stop)")
            let detail = try await c.call(.get, "/compute/v2.1/servers/\(ids[1])/os-instance-actions/\(stop["request_id"]?.stringValue ?? "")",
                                          token: admin, headers: ["OpenStack-API-Version": "compute 2.84"])
            #expect(detail.body?.text.contains("ended unexpectedly") == true, "\(detail.body?.text ?? "")")
            // Running while it should be stopped: the host is told to stop it.
            try await hypervisor.setPower(ids[0], host: host, .start)
            try await PowerSync.sync(ids[0], cloud.compute)
            #expect(await hypervisor.powerState(ids[0], host: host) == .shutdown)
            _ = otherHost
        }
    }

    @Test(arguments: [false, true])
    func aGuestItsHostLostIsStartedAgainOnlyWhenAskedTo(_ resume: Bool) async throws {
        let cloud = try await computeCloud { $0.resumeGuestsStateOnHostBoot = resume }
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            await cloud.compute.settle()
            let hypervisor = cloud.compute.hypervisor as! FakeHypervisor
            let host = try #require(try await c.server(admin, id)?["OS-EXT-SRV-ATTR:host"]?.stringValue)
            hypervisor.crash(id)  // as a host reboot leaves it: known to the host, not running
            await cloud.compute.resumeServers()
            try await PowerSync.sync(id, cloud.compute)
            #expect(await hypervisor.powerState(id, host: host) == (resume ? .running : .crashed))
            #expect(try await c.server(admin, id)?["status"]?.stringValue == (resume ? "ACTIVE" : "SHUTOFF"))
        }
    }

    @Test func whatAHostHasOfNoServerIsRemoved() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        let hypervisor = cloud.compute.hypervisor as! FakeHypervisor
        let host = hypervisor.hosts[0].name
        let stray = InstanceSpec(id: "stray-\(UUID())", name: "stray", host: host, vcpus: 1, memoryMB: 64, diskGB: 1,
                                 image: InstanceImage(id: "gone"))
        try await hypervisor.spawn(stray)
        try await cloud.compute.removeLeftovers()
        #expect(try await !hypervisor.instances(host: host).contains(stray.id))
    }
}
