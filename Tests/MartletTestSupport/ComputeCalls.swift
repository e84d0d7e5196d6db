import MartletCore

/// Compute calls the services' tests share: the prerequisites of a boot, a boot, a server, an action.
extension Client {
    /// A network with a /24 and a small active image, both usable by the admin project.
    public func bootPrerequisites(_ token: String, cidr: String = "10.20.0.0/24") async throws -> (network: String, image: String) {
        let net = try await call(.post, "/network/v2.0/networks", token: token, json: ["network": ["name": .string("net-" + Identifier.hex().prefix(6))]])
        guard let networkID = net["network"]?["id"]?.stringValue else { throw TestFailure("network: \(net.body?.text ?? "")") }
        let subnet = try await call(.post, "/network/v2.0/subnets", token: token,
                                    json: ["subnet": ["network_id": .string(networkID), "cidr": .string(cidr), "ip_version": 4]])
        guard subnet.status == .created else { throw TestFailure("subnet: \(subnet.body?.text ?? "")") }
        let image = try await call(.post, "/image/v2/images", token: token,
                                   json: ["name": "img", "disk_format": "raw", "container_format": "bare", "visibility": "public"])
        guard let imageID = image["id"]?.stringValue else { throw TestFailure("image: \(image.body?.text ?? "")") }
        let upload = try await call(.put, "/image/v2/images/\(imageID)/file", token: token, raw: Array("disk".utf8),
                                    headers: ["Content-Type": "application/octet-stream"])
        guard upload.status == .noContent else { throw TestFailure("upload: \(upload.status)") }
        return (networkID, imageID)
    }

    /// One server booted on fresh prerequisites; its ID (the server may still be building).
    public func bootOne(_ token: String) async throws -> String {
        let (network, image) = try await bootPrerequisites(token)
        guard let id = try await boot(token, image: image, network: network)["server"]?["id"]?.stringValue else { throw TestFailure("boot gave no server") }
        return id
    }

    /// POSTs a server; returns the reply (202 carries `server.id`).
    public func boot(_ token: String, name: String = "vm", image: String, network: String?, flavor: String = "42",
              extra: [String: JSON] = [:], hints: [String: JSON]? = nil, version: String? = nil) async throws -> Reply {
        var server: [String: JSON] = ["name": .string(name), "imageRef": .string(image), "flavorRef": .string(flavor)]
        if let network { server["networks"] = [["uuid": .string(network)]] }
        server.merge(extra) { _, new in new }
        var body: [String: JSON] = ["server": .object(server)]
        if let hints { body["os:scheduler_hints"] = .object(hints) }
        return try await call(.post, "/compute/v2.1/servers", token: token, json: .object(body),
                              headers: version.map { ["OpenStack-API-Version": "compute \($0)"] } ?? [:])
    }

    public func server(_ token: String, _ id: String, version: String? = nil) async throws -> JSON? {
        try await call(.get, "/compute/v2.1/servers/\(id)", token: token,
                       headers: version.map { ["OpenStack-API-Version": "compute \($0)"] } ?? [:])["server"]
    }

    public func action(_ token: String, _ id: String, _ body: JSON) async throws -> Reply {
        try await call(.post, "/compute/v2.1/servers/\(id)/action", token: token, json: body)
    }
}
