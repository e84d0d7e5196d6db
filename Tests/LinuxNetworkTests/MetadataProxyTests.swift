import DriverKit
import Foundation
@testable import LinuxNetwork
import Testing

/// The metadata proxy against the kernel: stand-in guests ask `169.254.169.254` through their
/// DHCP namespace (a network without a router) and through a router; a Python server on this
/// namespace's loopback stands in for the metadata service and echoes what it was told.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MARTLET_NETWORK_TESTS"] == "1"), .oneBackendAtATime)
struct MetadataProxyTests {
    static let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("martlet-metadata-\(getpid())").path
    static let upstreamPort = 20_000 + Int(getpid() % 10_000)
    let backend = LinuxNetworkBackend(host: "net-test", runtime: Self.runtime,
                                      metadata: .init(host: "127.0.0.1", port: Self.upstreamPort, secret: "s3cret"))

    static func network(_ cidr: String, gateway: String, dhcp: Bool, routed: Bool) -> NetworkPlan {
        NetworkPlan(id: UUID().uuidString.lowercased(), networkType: "local", physicalNetwork: nil, segmentationID: nil, mtu: 1500,
                    adminStateUp: true, subnets: [SubnetPlan(id: UUID().uuidString.lowercased(), cidr: cidr, gatewayIP: gateway, allocationPools: [],
                                                             enableDHCP: dhcp, dnsNameservers: [], hostRoutes: [], ipv6RAMode: nil,
                                                             ipv6AddressMode: nil, routed: routed)])
    }

    static func port(_ network: NetworkPlan, _ ip: String, owner: String = "compute:nova", device: String, mac: String) -> PortPlan {
        PortPlan(id: UUID().uuidString.lowercased(), networkID: network.id, host: "net-test", macAddress: mac, fixedIPs: [ip],
                 adminStateUp: true, deviceOwner: owner, portSecurityEnabled: false, securityGroupIDs: [], allowedAddressPairs: [],
                 deviceID: device)
    }

    /// Answers every GET with the headers the proxy sent, as JSON.
    static func startUpstream() throws -> Process {
        let script = """
        import http.server, json, sys
        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"path": self.path, "instance": self.headers.get_all("X-Instance-ID"),
                                   "signature": self.headers.get("X-Instance-ID-Signature"),
                                   "forwarded": self.headers.get("X-Forwarded-For")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args): pass
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, "\(upstreamPort)"]
        try process.run()
        return process
    }

    /// What the metadata service was told, as the guest received it; nil for an answer other than 200.
    static func ask(_ guest: Guest, from source: String? = nil) async -> [String: Any]? {
        let probe = """
        import json, sys, urllib.request, http.client
        c = http.client.HTTPConnection("169.254.169.254", 80, timeout=3, source_address=(sys.argv[1], 0) if sys.argv[1] else None)
        c.request("GET", "/openstack/latest/meta_data.json", headers={"X-Instance-ID": "someone-else", "X-Instance-ID-Signature": "forged"})
        r = c.getresponse()
        print(r.read().decode() if r.status == 200 else "")
        """
        guard let out = try? await HostCommand.output(["ip", "netns", "exec", guest.namespace, "python3", "-c", probe, source ?? ""]),
              out.status == 0, let data = out.stdout.data(using: .utf8) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    @Test func guestsReachTheMetadataServiceSignedAsTheirServer() async throws {
        let upstream = try Self.startUpstream()
        defer { kill(upstream.processIdentifier, SIGKILL) }
        let isolated = Self.network("10.93.1.0/24", gateway: "10.93.1.1", dhcp: true, routed: false)
        let routed = Self.network("10.93.2.0/24", gateway: "10.93.2.1", dhcp: false, routed: true)
        let dhcpPort = Self.port(isolated, "10.93.1.2", owner: "network:dhcp", device: "dhcp", mac: "fa:16:3e:00:93:02")
        let a = Self.port(isolated, "10.93.1.10", device: "server-a", mac: "fa:16:3e:00:93:10")
        let b = Self.port(routed, "10.93.2.10", device: "server-b", mac: "fa:16:3e:00:93:11")
        let router = RouterPlan(id: UUID().uuidString.lowercased(), adminStateUp: true, gateway: nil,
                                interfaces: [.init(portID: UUID().uuidString.lowercased(), networkID: routed.id, macAddress: "fa:16:3e:00:93:01",
                                                   addresses: ["10.93.2.1/24"])],
                                routes: [], floatingIPs: [], portForwardings: [])
        var guests: [Guest] = []
        do {
            for network in [isolated, routed] { try await backend.apply(network: network) }
            try await backend.apply(port: dhcpPort)
            // One at a time: a guest made before a later one fails is still removed below.
            guests.append(try await Guest.make(a))
            guests.append(try await Guest.make(b, gateway: "10.93.2.1"))
            for port in [a, b] { try await backend.apply(port: port) }
            try await backend.apply(router: router)
            // What dnsmasq tells a guest of the network without a router: the metadata service is through the DHCP port.
            let options = try String(contentsOfFile: "\(Self.runtime)/dhcp/\(isolated.id)/opts", encoding: .utf8)
            #expect(options.contains("classless-static-route,169.254.169.254/32,10.93.1.2,0.0.0.0/0,10.93.1.1"), "\(options)")
            try await HostCommand.run(["ip", "-n", guests[0].namespace, "route", "add", "169.254.169.254/32", "via", "10.93.1.2", "dev", "eth0"])
            for _ in 0..<50 where Self.upstreamDown() { try await Task.sleep(for: .milliseconds(100)) }

            let throughDHCP = await Self.ask(guests[0])
            #expect(throughDHCP?["instance"] as? [String] == ["server-a"], "\(String(describing: throughDHCP))")
            #expect(throughDHCP?["signature"] as? String == backend.metadata?.signature("server-a"))
            #expect(throughDHCP?["forwarded"] as? String == "10.93.1.10")
            #expect(throughDHCP?["path"] as? String == "/openstack/latest/meta_data.json")
            let throughRouter = await Self.ask(guests[1])
            #expect(throughRouter?["instance"] as? [String] == ["server-b"], "\(String(describing: throughRouter))")
            #expect(backend.metadata?.namespaces() == [Namespaces.dhcp(network: isolated.id), Namespaces.router(router.id)])

            // An address no port of the network has is not answered for.
            try await HostCommand.run(["ip", "-n", guests[0].namespace, "address", "add", "10.93.1.99/24", "dev", "eth0"])
            #expect(await Self.ask(guests[0], from: "10.93.1.99") == nil)
            // A port gone: its address is no longer answered for.
            try await backend.removePort(id: a.id)
            #expect(backend.metadata?.instance(at: "10.93.1.10", on: [isolated.id]) == nil)

            try await backend.removeRouter(id: router.id)
            try await backend.removeNetwork(id: isolated.id)
            #expect(backend.metadata?.namespaces() == [])
        } catch {
            Issue.record(error)
        }
        for guest in guests { await guest.remove() }
        for port in [dhcpPort, a, b] { try? await backend.removePort(id: port.id) }
        try? await backend.removeRouter(id: router.id)
        for network in [isolated, routed] { try? await backend.removeNetwork(id: network.id) }
        await backend.dropTables()
        try? FileManager.default.removeItem(atPath: Self.runtime)
    }

    static func upstreamDown() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(upstreamPort).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } != 0
    }
}
