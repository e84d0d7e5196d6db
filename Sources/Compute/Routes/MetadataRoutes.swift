import Crypto
import Foundation
import Hummingbird
import MartletCore
import SQLKit

/// The metadata service guests read at boot (cloud-init): the OpenStack tree under `/openstack` and
/// the EC2 tree under `/latest` (and its dated aliases). It answers for the server the request comes
/// from: by the caller's address, or by `X-Instance-ID` when a metadata proxy signs it with
/// `X-Instance-ID-Signature` (HMAC-SHA256 with the shared `metadata_proxy_secret`).
struct MetadataRoutes {
    let service: ComputeService
    static let openstackVersions = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06",
                                    "2017-02-22", "2018-08-27", "2020-10-14", "latest"]
    static let ec2Versions = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
                              "2008-09-01", "2009-04-04", "latest"]

    func register(_ router: Router<MartletContext>) {
        router.get("/openstack") { _, _ in text(Self.openstackVersions.joined(separator: "\n")) }
        router.get("/openstack/:version") { request, context in
            _ = try await instance(request, context)
            return text(["meta_data.json", "network_data.json", "password", "user_data", "vendor_data.json", "vendor_data2.json"].joined(separator: "\n"))
        }
        // Both methods on the path itself: the router would not fall back from it to `:file`.
        router.get("/openstack/:version/password") { request, context in text(try await instance(request, context).password ?? "") }
        router.post("/openstack/:version/password") { request, context in
            try await setPassword(try await instance(request, context), request)
        }
        router.get("/openstack/:version/:file") { request, context in
            let version = context.parameters.get("version") ?? ""
            guard Self.openstackVersions.contains(version) else { throw APIError.notFound("The resource could not be found.") }
            let server = try await instance(request, context)
            switch context.parameters.get("file") ?? "" {
            case "meta_data.json": return Response.json(.ok, InstanceData(server: server).metaData())
            case "network_data.json": return Response.json(.ok, InstanceData(server: server).networkData())
            case "vendor_data.json", "vendor_data2.json": return Response.json(.ok, [:])
            case "user_data": return try userData(server)
            default: throw APIError.notFound("The resource could not be found.")
            }
        }
        for version in Self.ec2Versions {
            router.get(RouterPath("/\(version)")) { request, context in
                _ = try await instance(request, context)
                return text("meta-data/\nuser-data")
            }
            router.get(RouterPath("/\(version)/user-data")) { request, context in try userData(try await instance(request, context)) }
            router.get(RouterPath("/\(version)/meta-data")) { request, context in
                try await ec2(try await instance(request, context), path: [])
            }
            router.get(RouterPath("/\(version)/meta-data/**")) { request, context in
                try await ec2(try await instance(request, context), path: context.parameters.getCatchAll().map(String.init).filter { !$0.isEmpty })
            }
        }
    }

    private func text(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=UTF-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The server the request speaks for, or 404 (Nova's metadata service answers unknown callers so).
    private func instance(_ request: Request, _ context: MartletContext) async throws -> Server {
        if let id = request.header("X-Instance-ID") {
            guard let secret = service.metadataSecret, let signature = request.header("X-Instance-ID-Signature") else {
                throw APIError.forbidden("Instance ID requests must be signed by the metadata proxy.")
            }
            let expected = HMAC<SHA256>.authenticationCode(for: Data(id.utf8), using: SymmetricKey(data: Data(secret.utf8))).hex
            guard signature.lowercased() == expected else { throw APIError.forbidden("Invalid proxy request signature.") }
            guard let server = try await service.servers.get(id) else { throw APIError.notFound("Instance \(id) could not be found.") }
            return server
        }
        guard let address = context.remoteAddress?.ipAddress else { throw APIError.notFound("The caller is not a server of this cloud.") }
        let candidates = try await service.db.read { try await service.servers.list("host IS NOT NULL", limit: nil, in: $0) }
        guard let server = candidates.first(where: { $0.addresses.contains { $0.address == address } }) else {
            throw APIError.notFound("The caller is not a server of this cloud.")
        }
        return server
    }

    /// Nova's metadata password: a guest (cloudbase-init, tempest) posts it once, at most 256 bytes;
    /// `os-server-password` reads and clears it.
    private func setPassword(_ server: Server, _ request: Request) async throws -> Response {
        var body: ByteBuffer
        do { body = try await request.body.collect(upTo: 256) } catch { throw APIError.badRequest("Request is too large.") }
        let password = body.readString(length: body.readableBytes) ?? ""
        try await service.db.transaction { db in
            guard var s = try await service.servers.get(server.id, in: db) else { throw APIError.notFound("Instance \(server.id) could not be found.") }
            guard (s.password ?? "").isEmpty else { throw APIError.conflict("Password already set.") }
            s.password = password
            try await service.servers.update(s, in: db)
        }
        return text("")
    }

    private func userData(_ s: Server) throws -> Response {
        guard let data = InstanceData(server: s).userData else {
            throw APIError.notFound("The server has no user data.")
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func ec2(_ s: Server, path: [String]) async throws -> Response {
        let publicIPv4 = try await service.withLiveAddresses(s).addresses.first { $0.type == "floating" && $0.version == 4 }?.address ?? ""
        let tree = InstanceData(server: s, publicIPv4: publicIPv4).ec2Tree()
        let key = path.joined(separator: "/")
        if let value = tree[key] ?? (key == "public-keys" ? tree["public-keys/"] : nil) { return text(value) }
        let prefix = key.isEmpty ? "" : key + "/"
        let children = Set(tree.keys.filter { $0.hasPrefix(prefix) && $0 != prefix }.map { child -> String in
            let rest = child.dropFirst(prefix.count)
            return rest.contains("/") ? String(rest.prefix { $0 != "/" }) + "/" : String(rest)
        }).sorted()
        guard !children.isEmpty else { throw APIError.notFound("The resource could not be found.") }
        return text(children.joined(separator: "\n"))
    }
}
