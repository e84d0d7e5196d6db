@testable import Compute
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// Every Compute listing pages with MartletCore's `Pagination`, answering as Nova does: the
/// `*_links` next href, a 400 for a bad `limit`, Nova's wording for an unknown marker.
@Suite struct ComputePagingTests {
    static func version(_ v: String?) -> [String: String] { v.map { ["OpenStack-API-Version": "compute \($0)"] } ?? [:] }

    /// Follows `*_links` next hrefs from `first` until a page has none; returns the ids seen, in order.
    /// Each next href must be `base + path?<query as asked, sorted, without marker>&marker=<last id shown>`.
    static func walk(_ c: Client, _ token: String, base: String, first: String, query: [(String, String)], collection: String,
                     links: String, version microversion: String?, id: (JSON) -> String?) async throws -> [String] {
        var seen: [String] = []
        var path = first + "?" + query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        for _ in 0..<50 {
            let reply = try await c.call(.get, path, token: token, headers: Self.version(microversion))
            #expect(reply.status == .ok, "\(path): \(reply.body?.text ?? "")")
            let items = reply[collection]?.array ?? []
            seen += items.compactMap(id)
            guard let next = reply[links]?.array.first else { return seen }
            #expect(reply[links]?.array.count == 1 && next["rel"] == "next")
            let lastID = items.last.flatMap(id)
            let last = try #require(lastID)
            let sorted = query.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            let href = try #require(next["href"]?.stringValue)
            #expect(href == "\(base)\(first.dropFirst("/compute".count))?\(sorted)&marker=\(last)")
            path = String(href[try #require(href.range(of: "/compute/v2.1")).lowerBound...])
        }
        Issue.record("\(first) never ended")
        return seen
    }

    static func expectBadLimits(_ c: Client, _ token: String, _ path: String, version: String? = nil) async throws {
        for bad in ["-1", "abc"] {
            let sep = path.contains("?") ? "&" : "?"
            let reply = try await c.call(.get, "\(path)\(sep)limit=\(bad)", token: token, headers: Self.version(version))
            #expect(reply.status == .badRequest, "\(path) limit=\(bad): \(reply.status)")
            #expect(reply["badRequest"]?["message"] == "limit param must be an integer", "\(path) limit=\(bad): \(reply.body?.text ?? "")")
        }
    }

    static func expectUnknownMarker(_ c: Client, _ token: String, _ path: String, version: String? = nil, message: String) async throws {
        let reply = try await c.call(.get, "\(path)?marker=nope", token: token, headers: Self.version(version))
        #expect(reply.status == .badRequest, "\(path): \(reply.status)")
        #expect(reply["badRequest"]?["message"]?.stringValue == message, "\(path): \(reply.body?.text ?? "")")
    }

    @Test func serversPageByMarkerWithServersLinks() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        let base = cloud.compute.links.base
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            for n in 1...3 { #expect(try await c.boot(admin, name: "vm\(n)", image: image, network: network).status == .accepted) }
            await cloud.compute.settle()
            for path in ["/compute/v2.1/servers", "/compute/v2.1/servers/detail"] {
                let all = try await c.call(.get, path, token: admin)["servers"]?.array.compactMap { $0["id"]?.stringValue } ?? []
                #expect(all.count == 3)
                let walked = try await Self.walk(c, admin, base: base, first: path, query: [("limit", "2")], collection: "servers",
                                                 links: "servers_links", version: nil) { $0["id"]?.stringValue }
                #expect(walked == all)
                // A full last page still links on (Nova's way); the page after it is empty.
                let byOne = try await Self.walk(c, admin, base: base, first: path, query: [("name", "vm"), ("limit", "1")], collection: "servers",
                                                links: "servers_links", version: nil) { $0["id"]?.stringValue }
                #expect(byOne == all)
                try await Self.expectBadLimits(c, admin, path)
                try await Self.expectUnknownMarker(c, admin, path, message: "marker [nope] not found")
            }
            #expect(try await c.call(.get, "/compute/v2.1/servers?limit=0", token: admin)["servers"]?.array.isEmpty == true)
        }
    }

    @Test func flavorsPageByMarkerWithFlavorsLinks() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        let base = cloud.compute.links.base
        try await cloud.serve { c in
            let admin = try await c.token()
            for path in ["/compute/v2.1/flavors", "/compute/v2.1/flavors/detail"] {
                let unpaged = try await c.call(.get, path, token: admin)
                #expect(unpaged["flavors_links"] == nil)
                let all = unpaged["flavors"]?.array.compactMap { $0["id"]?.stringValue } ?? []
                #expect(all.count > 3)
                let walked = try await Self.walk(c, admin, base: base, first: path, query: [("minDisk", "0"), ("limit", "2")], collection: "flavors",
                                                 links: "flavors_links", version: nil) { $0["id"]?.stringValue }
                #expect(walked == all)
                // The last page, however full, has no link: only a page with more after it does.
                let last = try await c.call(.get, "\(path)?limit=2&marker=\(all[all.count - 3])", token: admin)
                #expect(last["flavors"]?.array.count == 2 && last["flavors_links"] == nil)
                try await Self.expectBadLimits(c, admin, path)
                try await Self.expectUnknownMarker(c, admin, path, message: "marker [nope] not found")
            }
        }
    }

    @Test func keypairsPageByMarkerFrom235() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        let base = cloud.compute.links.base
        try await cloud.serve { c in
            let admin = try await c.token()
            for n in 1...5 {
                let made = try await c.call(.post, "/compute/v2.1/os-keypairs", token: admin, json: ["keypair": ["name": .string("key\(n)")]],
                                            headers: Self.version("2.35"))
                #expect(made.status == .ok || made.status == .created, "\(made.body?.text ?? "")")
            }
            let name: (JSON) -> String? = { $0["keypair"]?["name"]?.stringValue }
            let all = try await c.call(.get, "/compute/v2.1/os-keypairs", token: admin, headers: Self.version("2.35"))["keypairs"]?.array.compactMap(name) ?? []
            #expect(all.count == 5)
            let walked = try await Self.walk(c, admin, base: base, first: "/compute/v2.1/os-keypairs", query: [("limit", "2")], collection: "keypairs",
                                             links: "keypairs_links", version: "2.35", id: name)
            #expect(walked == all)
            try await Self.expectBadLimits(c, admin, "/compute/v2.1/os-keypairs", version: "2.35")
            try await Self.expectUnknownMarker(c, admin, "/compute/v2.1/os-keypairs", version: "2.35", message: "Marker nope could not be found.")
            // Before 2.35 key pairs are not paged: limit and marker mean nothing.
            let old = try await c.call(.get, "/compute/v2.1/os-keypairs?limit=1&marker=nope", token: admin, headers: Self.version("2.34"))
            #expect(old.status == .ok && old["keypairs"]?.array.count == 5 && old["keypairs_links"] == nil)
        }
    }

    @Test func hypervisorsPageByMarkerFrom233() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        let base = cloud.compute.links.base
        try await cloud.serve { c in
            let admin = try await c.token()
            for (version, path) in [("2.53", "/compute/v2.1/os-hypervisors"), ("2.53", "/compute/v2.1/os-hypervisors/detail"),
                                    ("2.33", "/compute/v2.1/os-hypervisors")] {
                let id: (JSON) -> String? = { json in
                    if case .int(let n)? = json["id"] { return String(n) }
                    return json["id"]?.stringValue
                }
                let all = try await c.call(.get, path, token: admin, headers: Self.version(version))["hypervisors"]?.array.compactMap(id) ?? []
                #expect(all.count == 2)
                let walked = try await Self.walk(c, admin, base: base, first: path, query: [("limit", "1")], collection: "hypervisors",
                                                 links: "hypervisors_links", version: version, id: id)
                #expect(walked == all)
                try await Self.expectBadLimits(c, admin, path, version: version)
                try await Self.expectUnknownMarker(c, admin, path, version: version, message: "marker [nope] not found")
            }
        }
    }

    /// From 2.40 usage pages by server: novaclient (and so Horizon's overview) asks with the last
    /// server as marker until a page comes back empty, so a marker that is ignored never ends.
    @Test func usagePagesByServerFrom240() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        let base = cloud.compute.links.base
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            for n in 1...3 { #expect(try await c.boot(admin, name: "vm\(n)", image: image, network: network).status == .accepted) }
            await cloud.compute.settle()
            let project = try #require(try await c.call(.get, "/identity/v3/auth/tokens", token: admin, headers: ["X-Subject-Token": admin])["token"]?["project"]?["id"]?.stringValue)
            let show = "/compute/v2.1/os-simple-tenant-usage/\(project)"
            let ids: (JSON) -> [String] = { $0["server_usages"]?.array.compactMap { $0["instance_id"]?.stringValue } ?? [] }
            let all = ids(try await c.call(.get, show, token: admin, headers: Self.version("2.39"))["tenant_usage"] ?? [:])
            #expect(all.count == 3)
            // Before 2.40 a marker is not a parameter: every server, every time.
            #expect(ids(try await c.call(.get, "\(show)?marker=\(all[0])", token: admin, headers: Self.version("2.39"))["tenant_usage"] ?? [:]) == all)
            var seen: [String] = []
            var path = "\(show)?limit=2"
            for _ in 0..<5 {
                let page = try await c.call(.get, path, token: admin, headers: Self.version("2.40"))
                #expect(page.status == .ok)
                let got = ids(page["tenant_usage"] ?? [:])
                seen += got
                guard let next = page["tenant_usage_links"]?.array.first?["href"]?.stringValue else {
                    // novaclient asks once more after the last page and stops at the empty one.
                    let last = try #require(seen.last)
                    #expect(ids(try await c.call(.get, "\(show)?marker=\(last)", token: admin, headers: Self.version("2.40"))["tenant_usage"] ?? [:]).isEmpty)
                    break
                }
                #expect(next.hasPrefix("\(base)/v2.1/os-simple-tenant-usage/\(project)?limit=2&marker="))
                path = String(next[try #require(next.range(of: "/compute/v2.1")).lowerBound...])
            }
            #expect(seen == all)
            let list = try await c.call(.get, "/compute/v2.1/os-simple-tenant-usage?detailed=1&limit=1", token: admin, headers: Self.version("2.40"))
            #expect(list["tenant_usages"]?.array.count == 1 && list["tenant_usages_links"]?.array.first?["rel"] == "next")
            try await Self.expectUnknownMarker(c, admin, show, version: "2.40", message: "Marker nope could not be found.")
        }
    }

    /// The other listings refuse a bad limit too, and answer an unknown marker as Nova does.
    @Test func everyOtherListingRefusesABadLimit() async throws {
        let cloud = try await computeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let (network, image) = try await c.bootPrerequisites(admin)
            let server = try #require(try await c.boot(admin, image: image, network: network)["server"]?["id"]?.stringValue)
            await cloud.compute.settle()
            try await Self.expectBadLimits(c, admin, "/compute/v2.1/os-migrations", version: "2.59")
            try await Self.expectUnknownMarker(c, admin, "/compute/v2.1/os-migrations", version: "2.59", message: "Marker nope could not be found.")
            try await Self.expectBadLimits(c, admin, "/compute/v2.1/servers/\(server)/os-instance-actions", version: "2.58")
            try await Self.expectUnknownMarker(c, admin, "/compute/v2.1/servers/\(server)/os-instance-actions", version: "2.58",
                                               message: "Marker nope could not be found.")
            let actions = try await c.call(.get, "/compute/v2.1/servers/\(server)/os-instance-actions?limit=1", token: admin, headers: Self.version("2.58"))
            #expect(actions["instanceActions"]?.array.count == 1)
            try await Self.expectBadLimits(c, admin, "/compute/v2.1/os-server-groups")
            try await Self.expectBadLimits(c, admin, "/compute/v2.1/images")
            try await Self.expectUnknownMarker(c, admin, "/compute/v2.1/images", message: "marker [nope] not found")
            let images = try await c.call(.get, "/compute/v2.1/images?limit=0", token: admin)
            #expect(images.status == .ok && images["images"]?.array.isEmpty == true)
        }
    }
}
