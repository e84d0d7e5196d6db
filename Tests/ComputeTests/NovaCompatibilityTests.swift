@testable import Compute
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// What outside clients (openstacksdk, Ansible, tempest's full profile) expect of Nova's answers.
@Suite struct NovaCompatibilityTests {
    @Test func createsRebuildsAndRescuesAnswerWithTheAdminPassword() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let generated = try await c.boot(admin, image: image, network: network)
            let password = try #require(generated["server"]?["adminPass"]?.stringValue)
            #expect(password.count == 12 && password.contains(where: \.isNumber) && password.contains(where: \.isUppercase))
            let chosen = try await c.boot(admin, name: "chosen", image: image, network: network, extra: ["adminPass": "Chosen-Pass-1"])
            #expect(chosen["server"]?["adminPass"] == "Chosen-Pass-1")
            let id = try #require(chosen["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let rebuilt = try await c.action(admin, id, ["rebuild": ["imageRef": .string(image), "adminPass": "Rebuilt-Pass-2"]])
            #expect(rebuilt.status == .accepted && rebuilt["server"]?["adminPass"] == "Rebuilt-Pass-2")
            await cloud.compute.settle()
            let rescued = try await c.action(admin, id, ["rescue": .null])
            #expect(rescued.status == .ok && rescued["adminPass"]?.stringValue?.count == 12)
            await cloud.compute.settle()
            #expect(try await c.action(admin, id, ["unrescue": .null]).status == .accepted)
            await cloud.compute.settle()
            #expect(try await c.action(admin, id, ["changePassword": ["adminPass": "Changed-3"]]).status == .accepted)
        }
    }

    @Test func aMemberAskingForEveryProjectIsRefused() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let m = try await c.makeMember(admin: admin, name: "max", password: "pw")
            let max = try await c.token("max", "pw", project: m.projectName)
            for path in ["/compute/v2.1/servers/detail?all_tenants=True", "/compute/v2.1/servers?all_tenants=1", "/compute/v2.1/servers?all_tenants"] {
                let reply = try await c.call(.get, path, token: max)
                #expect(reply.status == .forbidden, "\(path) answered \(reply.status)")
            }
            #expect(try await c.call(.get, "/compute/v2.1/servers/detail?all_tenants=0", token: max).status == .ok)
            #expect(try await c.call(.get, "/compute/v2.1/servers/detail?all_tenants=True", token: admin).status == .ok)
        }
    }

    @Test func floatingIPsAppearInAddressesWhileAssociated() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image, external) = try await c.routedPrerequisites(admin)
            let id = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            let port = try #require(try await c.call(.get, "/network/v2.0/ports?device_id=\(id)", token: admin)["ports"]?.array.first?["id"]?.stringValue)
            let fip = try await c.call(.post, "/network/v2.0/floatingips", token: admin, json: ["floatingip": [
                "floating_network_id": .string(external), "port_id": .string(port)]])
            let address = try #require(fip["floatingip"]?["floating_ip_address"]?.stringValue)
            let fipID = try #require(fip["floatingip"]?["id"]?.stringValue)

            func floating(_ path: String) async throws -> [String] {
                let body = try await c.call(.get, path, token: admin)
                let addresses: JSON? = body["server"]?["addresses"] ?? body["addresses"]
                let entries: [JSON] = addresses?.objectValue?.values.flatMap { $0.array } ?? []
                // `/ips` shows no type: its floating entries are told by the external subnet.
                let outside: [String] = entries.compactMap { $0["addr"]?.stringValue }.filter { $0.hasPrefix("172.24.4.") }
                let typed: [String] = entries.filter { $0["OS-EXT-IPS:type"] == "floating" }.compactMap { $0["addr"]?.stringValue }
                return path.hasSuffix("/ips") ? outside : typed
            }
            #expect(try await floating("/compute/v2.1/servers/\(id)") == [address])
            #expect(try await floating("/compute/v2.1/servers/\(id)/ips") == [address])
            let listed = try await c.call(.get, "/compute/v2.1/servers/detail", token: admin)["servers"]?.array.first { $0["id"]?.stringValue == id }
            let entries = listed?["addresses"]?.objectValue?.values.flatMap { $0.array } ?? []
            #expect(entries.count == 2 && entries[1]["OS-EXT-IPS:type"] == "floating" && entries[1]["addr"]?.stringValue == address)
            #expect(entries[0]["OS-EXT-IPS-MAC:mac_addr"] == entries[1]["OS-EXT-IPS-MAC:mac_addr"])

            #expect(try await c.call(.put, "/network/v2.0/floatingips/\(fipID)", token: admin, json: ["floatingip": ["port_id": .null]]).status == .ok)
            #expect(try await floating("/compute/v2.1/servers/\(id)").isEmpty)

            // A SLAAC subnet added to the network gives the port an address, which the server shows
            // (Nova's cache, refreshed by Neutron's network-changed event), and takes it with it.
            let slaac = try await c.call(.post, "/network/v2.0/subnets", token: admin, json: ["subnet": [
                "network_id": .string(network), "cidr": "2001:db8:5::/64", "ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"]])
            let subnet = try #require(slaac["subnet"]?["id"]?.stringValue)
            func addresses() async throws -> [JSON] {
                try await c.call(.get, "/compute/v2.1/servers/\(id)", token: admin)["server"]?["addresses"]?.objectValue?.values.flatMap { $0.array } ?? []
            }
            let dual = try await addresses()
            #expect(dual.map { $0["version"] } == [4, 6] && dual[1]["addr"]?.stringValue?.hasPrefix("2001:db8:5:0:") == true, "\(dual)")
            #expect(dual.map { $0["OS-EXT-IPS-MAC:mac_addr"] } == [dual[0]["OS-EXT-IPS-MAC:mac_addr"], dual[0]["OS-EXT-IPS-MAC:mac_addr"]])
            #expect(try await c.call(.delete, "/network/v2.0/subnets/\(subnet)", token: admin).status == .noContent)
            #expect(try await addresses().map { $0["version"] } == [4])
        }
    }

    @Test func whatTempestsFullProfileAsksOfServers() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            // A generated x509 key pair: a PEM certificate and its key, with the certificate's fingerprint.
            let x509 = try await c.call(.post, "/compute/v2.1/os-keypairs", token: admin, json: ["keypair": ["name": "cert", "type": "x509"]],
                                        headers: ["OpenStack-API-Version": "compute 2.2"])
            #expect(x509.status == .created, "\(x509.body?.text ?? "")")
            #expect(x509["keypair"]?["public_key"]?.stringValue?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
            #expect(x509["keypair"]?["private_key"]?.stringValue?.contains("PRIVATE KEY") == true)
            #expect(x509["keypair"]?["fingerprint"]?.stringValue?.split(separator: ":").count == 20)

            // Disk config as asked, the servers of one request by their reservation, the console's tail.
            let made = try await c.boot(admin, image: image, network: network, extra: [
                "OS-DCF:diskConfig": "AUTO", "min_count": 2, "return_reservation_id": true])
            let reservation = try #require(made["reservation_id"]?.stringValue)
            _ = try await c.boot(admin, name: "other", image: image, network: network)
            await cloud.compute.settle()
            let mine = try await c.call(.get, "/compute/v2.1/servers/detail?reservation_id=\(reservation)", token: admin)["servers"]?.array ?? []
            #expect(mine.count == 2 && mine.allSatisfy { $0["OS-DCF:diskConfig"] == "AUTO" })
            let id = try #require(mine.first?["id"]?.stringValue)
            #expect(try await c.call(.put, "/compute/v2.1/servers/\(id)", token: admin, json: ["server": ["OS-DCF:diskConfig": "MANUAL"]]).status == .ok)
            #expect(try await c.server(admin, id)?["OS-DCF:diskConfig"] == "MANUAL")
            let console = try await c.action(admin, id, ["os-getConsoleOutput": ["length": 3]])
            #expect(console["output"]?.stringValue?.split(separator: "\n", omittingEmptySubsequences: false).count == 3)

            // Backups rotate: with rotation 2, a third backup removes the first.
            var backups: [String] = []
            for n in 1...3 {
                let reply = try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin, json: ["createBackup": [
                    "name": .string("b\(n)"), "backup_type": "daily", "rotation": 2, "metadata": ["note": "kept"]]],
                    headers: ["OpenStack-API-Version": "compute 2.45"])
                #expect(reply.status == .accepted, "\(reply.body?.text ?? "")")
                backups.append(reply["image_id"]?.stringValue ?? "")
                await cloud.compute.settle()
            }
            #expect(try await c.call(.get, "/image/v2/images/\(backups[0])", token: admin).status == .notFound)
            let last = try await c.call(.get, "/image/v2/images/\(backups[2])", token: admin)
            #expect(last["status"] == "active" && last["backup_type"] == "daily" && last["image_type"] == "backup" && last["note"] == "kept")
            // A snapshot's metadata wins over the properties Nova sets itself.
            let snap = try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin, json: ["createImage": [
                "name": "s", "metadata": ["image_type": "test"]]], headers: ["OpenStack-API-Version": "compute 2.45"])
            await cloud.compute.settle()
            #expect(try await c.call(.get, "/image/v2/images/\(snap["image_id"]?.stringValue ?? "")", token: admin)["image_type"] == "test")
        }
    }

    /// Below 2.36 Nova still proxies floating IPs: pools are the external networks, and addFloatingIp
    /// points one at the server.
    @Test func theFloatingIPProxyBelow236() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image, external) = try await c.routedPrerequisites(admin)
            let id = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()

            let old = ["OpenStack-API-Version": "compute 2.35"]
            #expect(try await c.call(.get, "/compute/v2.1/os-floating-ip-pools", token: admin, headers: old)["floating_ip_pools"] == [["name": "public"]])
            let made = try await c.call(.post, "/compute/v2.1/os-floating-ips", token: admin, json: ["pool": "public"], headers: old)
            let ip = try #require(made["floating_ip"]?["ip"]?.stringValue)
            #expect(made["floating_ip"]?["pool"] == "public" && made["floating_ip"]?["instance_id"] == .null)
            #expect(try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin, json: ["addFloatingIp": ["address": .string(ip)]], headers: old).status == .accepted)
            let shown = try await c.call(.get, "/compute/v2.1/os-floating-ips/\(made["floating_ip"]?["id"]?.stringValue ?? "")", token: admin, headers: old)
            #expect(shown["floating_ip"]?["instance_id"]?.stringValue == id && shown["floating_ip"]?["fixed_ip"]?.stringValue?.hasPrefix("10.20.0.") == true)
            #expect(try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin, json: ["removeFloatingIp": ["address": .string(ip)]], headers: old).status == .accepted)
            #expect(try await c.call(.post, "/compute/v2.1/servers/\(id)/action", token: admin, json: ["removeFloatingIp": ["address": .string(ip)]], headers: old).status == .conflict)
            #expect(try await c.call(.get, "/compute/v2.1/os-floating-ip-pools", token: admin, headers: ["OpenStack-API-Version": "compute 2.36"]).status == .notFound)
            #expect(try await c.call(.post, "/compute/v2.1/os-floating-ips", token: admin, json: ["pool": "nowhere"], headers: old).status == .notFound)
        }
    }
}

extension Client {
    /// `bootPrerequisites` with the network behind a router whose gateway is on a `public` external network.
    func routedPrerequisites(_ token: String) async throws -> (network: String, image: String, external: String) {
        let (network, image) = try await bootPrerequisites(token)
        guard let subnet = try await call(.get, "/network/v2.0/subnets?network_id=\(network)", token: token)["subnets"]?.array.first?["id"]?.stringValue,
              let external = try await call(.post, "/network/v2.0/networks", token: token,
                                            json: ["network": ["name": "public", "router:external": true]])["network"]?["id"]?.stringValue else {
            throw TestFailure("routed network set-up failed")
        }
        _ = try await call(.post, "/network/v2.0/subnets", token: token, json: ["subnet": ["network_id": .string(external), "cidr": "172.24.4.0/24", "ip_version": 4]])
        let router = try await call(.post, "/network/v2.0/routers", token: token, json: ["router": [
            "name": "r", "external_gateway_info": ["network_id": .string(external)]]])["router"]?["id"]?.stringValue ?? ""
        let leg = try await call(.put, "/network/v2.0/routers/\(router)/add_router_interface", token: token, json: ["subnet_id": .string(subnet)])
        guard leg.status == .ok else { throw TestFailure("router interface: \(leg.status)") }
        return (network, image, external)
    }
}
