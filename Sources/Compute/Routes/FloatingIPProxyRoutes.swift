import Foundation
import Hummingbird
import MartletCore
import ServiceContracts

/// Nova's floating-IP proxy, served until 2.36 removed it: `os-floating-ip-pools` (the external
/// networks) and `os-floating-ips` (the project's floating IPs, in Nova's words).
struct FloatingIPProxyRoutes {
    let service: ComputeService
    var networks: any NetworkResources { service.networks }
    var proxy: NetworkProxyRoutes { NetworkProxyRoutes(service: service) }

    func register(_ r: PolicyRouter) {
        r.get("/v2.1/os-floating-ip-pools", rule: "os_compute_api:os-floating-ip-pools") { call in
            let who = try proxy.caller(call)
            let pools = try await externalNetworks(who).map { JSON.object(["name": $0["name"] ?? ""]) }
            return .json(.ok, ["floating_ip_pools": .array(pools)])
        }
        r.get("/v2.1/os-floating-ips", rule: "os_compute_api:os-floating-ips:list") { call in
            let who = try proxy.caller(call)
            let own = try await networks.list("floatingips", as: who, matching: who.isAdmin ? ["project_id": who.projectID] : [:])
            return .json(.ok, ["floating_ips": .array(try await own.asyncMap { try await view($0, who) })])
        }
        r.get("/v2.1/os-floating-ips/:id", rule: "os_compute_api:os-floating-ips:show") { call in
            let who = try proxy.caller(call)
            let id = try call.param("id")
            let found = try await proxy.proxied { try await networks.show("floatingips", id, as: who) }
            return .json(.ok, ["floating_ip": try await view(found, who)])
        }
        r.post("/v2.1/os-floating-ips", rule: "os_compute_api:os-floating-ips:create") { call in
            let who = try proxy.caller(call)
            let body = try await call.request.body.collect(upTo: call.context.maxUploadSize)
            let asked = body.readableBytes == 0 ? nil : try JSONFields(try JSON.parse(body.readableBytesView), path: "").string("pool", nullable: true)
            let pools = try await externalNetworks(who)
            let pool: JSON? = if let asked { pools.first { $0["name"]?.stringValue == asked || $0["id"]?.stringValue == asked } } else { pools.first }
            guard let network = pool?["id"] else { throw APIError.notFound("Floating IP pool not found.") }
            let made = try await proxy.proxied { try await networks.create("floatingips", ["floating_network_id": network], as: who) }
            return .json(.ok, ["floating_ip": try await view(made, who)])
        }
        r.delete("/v2.1/os-floating-ips/:id", rule: "os_compute_api:os-floating-ips:delete") { call in
            let who = try proxy.caller(call)
            let id = try call.param("id")
            try await proxy.proxied { try await networks.delete("floatingips", id, as: who) }
            return .empty(.accepted)
        }
    }

    private func externalNetworks(_ who: NetworkCaller) async throws -> [JSON] {
        try await networks.list("networks", as: who, matching: ["router:external": "true"])
    }

    /// Nova's shape: the address, its pool's name, and the fixed address and server it leads to.
    private func view(_ fip: JSON, _ who: NetworkCaller) async throws -> JSON {
        let pool = try? await networks.show("networks", fip["floating_network_id"]?.stringValue ?? "", as: NetworkCaller(isAdmin: true, projectID: ""))
        var instance: JSON = nil
        if let port = fip["port_id"]?.stringValue,
           let found = try? await networks.show("ports", port, as: NetworkCaller(isAdmin: true, projectID: "")),
           let device = found["device_id"]?.stringValue, !device.isEmpty {
            instance = .string(device)
        }
        return ["id": fip["id"] ?? nil, "ip": fip["floating_ip_address"] ?? nil, "pool": pool?["name"] ?? nil,
                "fixed_ip": fip["fixed_ip_address"] ?? nil, "instance_id": instance]
    }

    /// `addFloatingIp` (before 2.44): points the project's floating IP at the server's port with that fixed address.
    func associate(_ server: Server, _ call: APICall, address: String, fixedAddress: String?) async throws {
        let who = try proxy.caller(call)
        guard let fip = try await networks.list("floatingips", as: who, matching: ["floating_ip_address": address]).first,
              let id = fip["id"]?.stringValue else {
            throw APIError.notFound("floating IP not found")
        }
        let ports = try await service.ports.ports(of: server.portRef)
        guard let port = fixedAddress.map({ wanted in ports.first { $0.fixedIPs.contains { $0.address == wanted } } }) ?? ports.first else {
            throw APIError.badRequest(fixedAddress.map { "Specified Fixed IP '\($0)' not found for instance." }
                                      ?? "No nw_info cache associated with instance")
        }
        var body: [String: JSON] = ["port_id": .string(port.id)]
        if let fixedAddress { body["fixed_ip_address"] = .string(fixedAddress) }
        try await proxy.proxied { try await networks.update("floatingips", id, body, as: who) }
    }

    /// `removeFloatingIp` (before 2.44): only from the server it leads to.
    func disassociate(_ server: Server, _ call: APICall, address: String) async throws {
        let who = try proxy.caller(call)
        guard let fip = try await networks.list("floatingips", as: who, matching: ["floating_ip_address": address]).first,
              let id = fip["id"]?.stringValue else {
            throw APIError.notFound("floating IP not found")
        }
        let ports = Set(try await service.ports.ports(of: server.portRef).map(\.id))
        guard let port = fip["port_id"]?.stringValue, ports.contains(port) else {
            throw APIError.conflict("Floating IP \(address) is not associated with instance \(server.id).")
        }
        try await proxy.proxied { try await networks.update("floatingips", id, ["port_id": nil], as: who) }
    }
}
