import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MartletCore
import MartletTestSupport
import Testing

/// Broken bodies on every route and broken framing on the listener: a client's mistake is a 4xx,
/// never a 500, and leaves nothing behind.
@Suite struct MalformedInputTests {
    static let bodies: [[UInt8]] = [
        Array("not json{".utf8), Array("[]".utf8), Array("\"text\"".utf8), Array("null".utf8), Array("12345678901234567890123".utf8),
        Array("{\"a\":".utf8), Array((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8),
        Array("{\"server\":5,\"network\":[],\"port\":\"x\",\"image\":{},\"name\":{\"n\":1},\"auth\":7}".utf8),
        [0xff, 0xfe, 0x00, 0x7b], Array("{\"\\ud800\":\"\\udfff\"}".utf8),
    ]

    @Test func brokenBodiesOnEveryRouteAreClientErrors() async throws {
        let cloud = try await fullCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let e = try await Estate.make(c)
            await cloud.compute.settle()
            var sent = 0
            for route in cloud.guardedRoutes where route.method != .delete && route.method != .get && route.method != .head {
                let (path, _) = e.fill(route.path)
                for body in Self.bodies {
                    for type in ["application/json", "application/openstack-images-v2.1-json-patch", "text/plain"] {
                        let reply = try await c.call(route.method, path, token: e.admin, raw: body, headers: ["Content-Type": type])
                        sent += 1
                        #expect(reply.status.code < 500, "\(route.method) \(route.path) [\(type)] \(String(decoding: body.prefix(40), as: UTF8.self)) → \(reply.status) \(reply.body?.text.prefix(200) ?? "")")
                    }
                }
            }
            // Hostile path parameters and query strings on every read.
            let oddities = ["%00", "..%2F..%2Fetc%2Fpasswd", String(repeating: "a", count: 3000), "%E2%98%83", "%ZZ", "-1", "1e999"]
            for route in cloud.guardedRoutes where route.method == .get && route.path.contains(":") {
                for odd in oddities {
                    let path = route.path.split(separator: "/", omittingEmptySubsequences: false)
                        .map { $0.hasPrefix(":") ? odd : String($0) }.joined(separator: "/")
                    let reply = try await c.call(.get, path + "?limit=\(odd)&marker=\(odd)&sort_key=\(odd)", token: e.admin)
                    sent += 1
                    #expect(reply.status.code < 500, "GET \(route.path) with \(odd.prefix(20)) → \(reply.status) \(reply.body?.text.prefix(200) ?? "")")
                }
            }
            #expect(sent > 5000)
        }
    }

    /// A body shorter than its Content-Length, and chunk sizes that are not numbers or overflow:
    /// 400 (or the connection closed), nothing stored.
    @Test func brokenFramingIsAClientError() async throws {
        let cloud = try await fullCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let e = try await Estate.make(c)
            let port = try #require(c.http.port)
            let targets: [(String, String, String)] = [
                ("POST", "/network/v2.0/networks", #"{"network": {"name": "framed"}}"#),
                ("POST", "/compute/v2.1/os-keypairs", #"{"keypair": {"name": "framed"}}"#),
                ("PUT", "\(e.account)/a-box/framed", "object bytes"),
                ("PUT", "/image/v2/images/\(e.byParam["image_id"]!)/file", "image bytes"),
                ("POST", "/identity/v3/projects", #"{"project": {"name": "framed"}}"#),
            ]
            for (method, path, body) in targets {
                let head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nX-Auth-Token: \(e.admin)\r\nContent-Type: application/json\r\n"
                let cases: [(String, String)] = [
                    ("short body", head + "Content-Length: \(body.utf8.count + 50)\r\n\r\n\(body)"),
                    ("chunk size zz", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n\(body)\r\n0\r\n\r\n"),
                    ("chunk size overflows", head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n\(body)\r\n0\r\n\r\n"),
                    ("chunk longer than said", head + "Transfer-Encoding: chunked\r\n\r\n2\r\n\(body)\r\n0\r\n\r\n"),
                ]
                for (name, request) in cases {
                    let answer = try RawHTTP.send(Array(request.utf8), port: port)
                    if let status = answer.status {
                        #expect((400..<500).contains(status), "\(name) on \(method) \(path) → \(answer.text.prefix(300))")
                    }
                }
            }
            // Nothing was made by any of them.
            let networks = try await c.call(.get, "/network/v2.0/networks?name=framed", token: e.admin)["networks"]?.array ?? []
            #expect(networks.isEmpty)
            #expect(try await c.call(.get, "/compute/v2.1/os-keypairs/framed", token: e.admin).status == .notFound)
            #expect(try await c.call(.head, "\(e.account)/a-box/framed", token: e.admin).status == .notFound)
            let projects = try await c.call(.get, "/identity/v3/projects?name=framed", token: e.admin)["projects"]?.array ?? []
            #expect(projects.isEmpty)
            #expect(try await c.call(.get, "/image/v2/images/\(e.byParam["image_id"]!)", token: e.admin)["checksum"] != nil)
            // And the listener still answers.
            #expect(try await c.call(.get, "/healthz").status == .ok)
        }
    }
}
