@testable import Compute
import DriverKit
import MartletCore
import MartletTestSupport
@testable import Networking
import Testing

/// A boot waits for the data plane to wire the server's ports, as Nova waits for Neutron's
/// `network-vif-plugged` event (`vif_plugging_timeout`, `vif_plugging_is_fatal`).
@Suite struct PortWiringTests {
    func boot(fatal: Bool) async throws -> (server: JSON?, port: JSON?) {
        let cloud = try await computeCloud { $0.vifPluggingTimeout = 1; $0.vifPluggingIsFatal = fatal }
        defer { Task { await cloud.close() } }
        let network = cloud.services.first { $0 is NetworkService } as! NetworkService
        let backend = network.backend as! FakeNetworkBackend
        return try await cloud.serve { c in
            let admin = try await c.token()
            let (net, image) = try await c.bootPrerequisites(admin)
            backend.failNext(1_000_000)  // the host's data plane refuses every change
            let id = try #require(try await c.boot(admin, image: image, network: net)["server"]?["id"]?.stringValue)
            var server = try await c.server(admin, id)
            for _ in 0..<300 where server?["status"] == "BUILD" {
                try await Task.sleep(for: .milliseconds(20))
                server = try await c.server(admin, id)
            }
            let port = try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.first
            backend.failNext(0)
            return (server, port)
        }
    }

    @Test func aBootWhosePortsAreNeverWiredFailsAsNovasDoes() async throws {
        let (server, port) = try await boot(fatal: true)
        #expect(server?["status"] == "ERROR")
        #expect(server?["fault"]?["message"] == "Virtual Interface creation failed")
        #expect(port == nil, "the failed boot left its port")
    }

    @Test func withVifPluggingNotFatalItStartsAnyway() async throws {
        let (server, port) = try await boot(fatal: false)
        #expect(server?["status"] == "ACTIVE")
        #expect(port?["status"] == "DOWN")
    }

    @Test func aServerIsActiveWithItsPortsWired() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let id = try await c.bootOne(admin)
            var server = try await c.server(admin, id)
            for _ in 0..<300 where server?["status"] == "BUILD" {
                try await Task.sleep(for: .milliseconds(20))
                server = try await c.server(admin, id)
            }
            #expect(server?["status"] == "ACTIVE")
            let port = try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.first
            #expect(port?["status"] == "ACTIVE")
        }
    }
}
