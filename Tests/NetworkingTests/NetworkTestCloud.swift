import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
@testable import Networking

/// A cloud with Identity and Network over the fake data plane.
/// `started`: the data plane has started (its hosts' agents registered), as under `martlet serve`.
func networkCloud(_ backend: TestBackend = .sqlite, started: Bool = true, configure: (inout MartletConfig) -> Void = { _ in }) async throws -> TestCloud {
    let cloud = try await TestCloud.make(backend, migrations: NetworkService.migrations, configure: configure) { db, config, _ in
        [try NetworkService(database: db, config: config, backend: FakeNetworkBackend(config: config))]
    }
    // Routers are built once an agent hosts them.
    if started { try await cloud.network.converge() }
    return cloud
}

extension TestCloud {
    var network: NetworkService { services.first { $0 is NetworkService } as! NetworkService }
    var fakeBackend: FakeNetworkBackend { network.backend as! FakeNetworkBackend }
}

extension Client {
    /// POSTs `{member: body}` to `/network/v2.0/<path>`; returns the created resource or fails the test.
    func create(_ path: String, _ member: String, _ token: String, _ body: JSON) async throws -> JSON {
        let reply = try await call(.post, "/network/v2.0/\(path)", token: token, json: [member: body])
        guard reply.status == .created, let doc = reply[member] else {
            throw TestFailure("create \(member) failed: \(reply.status) \(String(decoding: reply.bytes, as: UTF8.self))")
        }
        return doc
    }

    /// A network with one IPv4 subnet; returns (network id, subnet id).
    func networkWithSubnet(_ token: String, cidr: String = "10.0.0.0/24", extra: JSON = [:]) async throws -> (String, String) {
        let net = try await create("networks", "network", token, ["name": "n"])
        let netID = net["id"]?.stringValue ?? ""
        let body = JSON.object(["network_id": .string(netID), "cidr": .string(cidr), "ip_version": 4]).merging(extra.objectValue ?? [:])
        let subnet = try await create("subnets", "subnet", token, body)
        return (netID, subnet["id"]?.stringValue ?? "")
    }
}

extension Reply {
    /// Neutron's fault type, `NeutronError.type`.
    var faultType: String? { self["NeutronError"]?["type"]?.stringValue }
}
