@testable import BlockStorage
import DriverKit
import Foundation
import HTTPTypes
import MartletCore
import MartletTestSupport
import Testing

@Suite struct VolumeLifecycleTests {
    @Test(arguments: TestBackend.available)
    func aVolumeIsMadeListedChangedExtendedAndDeleted(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let root = try await c.call(.get, "/volume/")
            #expect(root.status == .multipleChoices && root["versions"]?.array.first?["id"] == "v3.0")
            let created = try await c.call(.post, "/volume/v3/volumes", token: admin,
                                           json: ["volume": ["size": "1", "name": "data", "metadata": ["k": "v"]]])
            #expect(created.status == .accepted && created["volume"]?["status"] == "creating", "\(created.body?.text ?? "")")
            let id = try #require(created["volume"]?["id"]?.stringValue)
            let shown = try await c.waitForVolume(id, "available", token: admin)["volume"]
            #expect(shown?["size"] == 1 && shown?["bootable"] == "false" && shown?["volume_type"] == "__DEFAULT__")
            #expect(shown?["metadata"]?["k"] == "v" && shown?["attachments"]?.array.isEmpty == true && shown?["availability_zone"] == "nova")
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.volume(id)?.sizeGB == 1)

            // A second volume, then paging: one per page, newest first, with a next link.
            let second = try await c.makeVolume(admin, size: 2, extra: ["name": "logs"])
            let page = try await c.call(.get, "/volume/v3/volumes?limit=1", token: admin)
            #expect(page["volumes"]?.array.map { $0["id"]?.stringValue ?? "" } == [second])
            let next = try #require(page["volumes_links"]?.array.first?["href"]?.stringValue)
            #expect(next.contains("marker=\(second)"))
            let rest = try await c.call(.get, "/volume/v3/volumes?limit=1&marker=\(second)", token: admin)
            // Cinder links a next page after every full page; the page after the last is empty and unlinked.
            #expect(rest["volumes"]?.array.map { $0["id"]?.stringValue ?? "" } == [id] && rest["volumes_links"] != nil)
            let end = try await c.call(.get, "/volume/v3/volumes?limit=1&marker=\(id)", token: admin)
            #expect(end["volumes"]?.array.isEmpty == true && end["volumes_links"] == nil)
            let byName = try await c.call(.get, "/volume/v3/volumes/detail?name=logs", token: admin)
            #expect(byName["volumes"]?.array.map { $0["size"] } == [2])
            let byMeta = try await c.call(.get, "/volume/v3/volumes?metadata=%7B%27k%27%3A%20%27v%27%7D", token: admin)
            #expect(byMeta["volumes"]?.array.map { $0["id"]?.stringValue ?? "" } == [id])
            let sorted = try await c.call(.get, "/volume/v3/volumes/detail?sort=size:asc", token: admin)
            #expect(sorted["volumes"]?.array.map { $0["size"] } == [1, 2])
            #expect(try await c.call(.get, "/volume/v3/volumes?marker=nope", token: admin).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/volumes?sort=colour:asc", token: admin).status == .badRequest)

            // Update and metadata.
            let renamed = try await c.call(.put, "/volume/v3/volumes/\(id)", token: admin, json: ["volume": ["name": "data2", "description": "d"]])
            #expect(renamed["volume"]?["name"] == "data2" && renamed["volume"]?["description"] == "d")
            #expect(try await c.call(.put, "/volume/v3/volumes/\(id)/metadata/k2", token: admin, json: ["meta": ["k2": "v2"]]).status == .ok)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(id)/metadata", token: admin)["metadata"] == ["k": "v", "k2": "v2"])
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(id)/metadata/k", token: admin).status == .ok)
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(id)/metadata/k", token: admin).status == .notFound)

            // Extend: only larger; the driver grows it.
            let smaller = try await c.call(.post, "/volume/v3/volumes/\(id)/action", token: admin, json: ["os-extend": ["new_size": 1]])
            #expect(smaller.status == .badRequest && smaller["badRequest"]?["message"]?.stringValue?.contains("greater than current size") == true)
            #expect(try await c.call(.post, "/volume/v3/volumes/\(id)/action", token: admin, json: ["os-extend": ["new_size": 3]]).status == .accepted)
            try await c.waitForVolume(id, "available", token: admin)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(id)", token: admin)["volume"]?["size"] == 3)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.volume(id)?.sizeGB == 3)

            // A snapshot holds its volume; cascade takes both.
            let snap = try await c.call(.post, "/volume/v3/snapshots", token: admin, json: ["snapshot": ["volume_id": .string(id), "name": "s"]])
            let snapID = try #require(snap["snapshot"]?["id"]?.stringValue)
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snapID)", token: admin)["snapshot"]?["status"] == "available")
            let held = try await c.call(.delete, "/volume/v3/volumes/\(id)", token: admin)
            #expect(held.status == .badRequest && held["badRequest"]?["message"]?.stringValue?.contains("snapshots") == true)
            let copy = try await c.makeVolume(admin, size: 3, extra: ["snapshot_id": .string(snapID)])
            #expect(try await c.call(.delete, "/volume/v3/volumes/\(id)?cascade=true", token: admin).status == .accepted)
            try await c.waitForVolume(id, "deleted", token: admin)
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(snapID)", token: admin).status == .notFound)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.snapshotExists(snapID) == false)
            for volume in [copy, second] { #expect(try await c.call(.delete, "/volume/v3/volumes/\(volume)", token: admin).status == .accepted) }
            await cloud.blockStorage.settle()
            #expect(try await c.call(.get, "/volume/v3/volumes", token: admin)["volumes"]?.array.isEmpty == true)
        }
    }

    @Test func badInputGetsCinderFaultsAndMakesNothing() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            for body: JSON in [["volume": ["size": 0]], ["volume": ["size": -1]], ["volume": ["size": "abc"]], ["volume": ["size": .double(1.5)]],
                               ["volume": [:]], ["volume": ["size": 1, "name": .string(String(repeating: "n", count: 300))]],
                               ["volume": ["size": 1, "availability_zone": "elsewhere"]], ["volume": ["size": 1, "metadata": ["k": 1]]],
                               ["volume": ["size": 1, "imageRef": .string(Identifier.uuid())]], ["volume": "1"], ["size": 1]] {
                let reply = try await c.call(.post, "/volume/v3/volumes", token: admin, json: body)
                #expect(reply.status == .badRequest && reply["badRequest"]?["code"] == 400, "\(body): \(reply.status) \(reply.body?.text ?? "")")
            }
            let garbage = try await c.call(.post, "/volume/v3/volumes", token: admin, raw: Array("{not json".utf8))
            #expect(garbage.status == .badRequest)
            for body: JSON in [["volume": ["size": 1, "volume_type": .string(Identifier.uuid())]], ["volume": ["size": 1, "snapshot_id": .string(Identifier.uuid())]],
                               ["volume": ["size": 1, "source_volid": .string(Identifier.uuid())]]] {
                let reply = try await c.call(.post, "/volume/v3/volumes", token: admin, json: body)
                #expect(reply.status == .notFound && reply["itemNotFound"] != nil, "\(body): \(reply.status)")
            }
            let id = try await c.makeVolume(admin)
            for action: JSON in [["os-extend": ["new_size": "abc"]], ["os-extend": ["new_size": .null]], ["os-reset_status": ["status": "sideways"]],
                                 ["os-colour": [:]], ["os-extend": ["new_size": 2], "os-set_bootable": ["bootable": true]]] {
                let reply = try await c.call(.post, "/volume/v3/volumes/\(id)/action", token: admin, json: action)
                #expect(reply.status == .badRequest, "\(action): \(reply.status)")
            }
            #expect(try await c.call(.get, "/volume/v3/volumes/\(id)", token: admin)["volume"]?["size"] == 1)
            #expect(try await c.call(.get, "/volume/v3/volumes/nope", token: admin).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/volumes", token: admin)["volumes"]?.array.count == 1)
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.volume(id) != nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func quotasHoldUnderConcurrentCreates(_ backend: TestBackend) async throws {
        let cloud = try await volumeCloud(backend)
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "quota")
            let token = try await c.token("quota", "pw", project: member.projectName)
            #expect(try await c.call(.put, "/volume/v3/os-quota-sets/\(member.project)", token: admin,
                                     json: ["quota_set": ["volumes": 3, "gigabytes": 100]]).status == .ok)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 {
                    group.addTask { Int(try await c.call(.post, "/volume/v3/volumes", token: token, json: ["volume": ["size": 1]]).status.code) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 202 }.count == 3 && statuses.filter { $0 == 413 }.count == 7, "\(statuses.sorted())")
            let usage = try await c.call(.get, "/volume/v3/os-quota-sets/\(member.project)?usage=true", token: token)["quota_set"]
            #expect(usage?["volumes"]?["in_use"] == 3 && usage?["gigabytes"]?["in_use"] == 3)
            let limits = try await c.call(.get, "/volume/v3/limits", token: token)["limits"]?["absolute"]
            #expect(limits?["maxTotalVolumes"] == 3 && limits?["totalVolumesUsed"] == 3)
            // A limit under what is used is refused; the other project's quota never moved.
            #expect(try await c.call(.put, "/volume/v3/os-quota-sets/\(member.project)", token: admin, json: ["quota_set": ["volumes": 1]]).status == .badRequest)
            #expect(try await c.call(.put, "/volume/v3/os-quota-sets/\(member.project)", token: token, json: ["quota_set": ["volumes": 50]]).status == .forbidden)
            #expect(try await c.call(.get, "/volume/v3/os-quota-sets/\(member.project)", token: admin)["quota_set"]?["volumes"] == 3)
        }
    }

    @Test func projectsSeeOnlyTheirVolumesAndReadersOnlyRead() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let owner = try await c.makeMember(admin: admin, name: "owner")
            let other = try await c.makeMember(admin: admin, name: "other")
            let ownerToken = try await c.token("owner", "pw", project: owner.projectName)
            let otherToken = try await c.token("other", "pw", project: other.projectName)
            let id = try await c.makeVolume(ownerToken)
            #expect(try await c.call(.get, "/volume/v3/volumes", token: otherToken)["volumes"]?.array.isEmpty == true)
            #expect(try await c.call(.get, "/volume/v3/volumes?all_tenants=1", token: otherToken)["volumes"]?.array.isEmpty == true)
            for (method, path, body) in [(HTTPRequest.Method.get, "/volume/v3/volumes/\(id)", nil), (.delete, "/volume/v3/volumes/\(id)", nil),
                                         (.put, "/volume/v3/volumes/\(id)", ["volume": ["name": "mine"]] as JSON),
                                         (.post, "/volume/v3/volumes/\(id)/action", ["os-extend": ["new_size": 2]]),
                                         (.post, "/volume/v3/snapshots", ["snapshot": ["volume_id": .string(id)]]),
                                         (.post, "/volume/v3/volumes", ["volume": ["size": 1, "source_volid": .string(id)]])] {
                let reply = try await c.call(method, path, token: otherToken, json: body)
                #expect(reply.status == .notFound, "\(method) \(path): \(reply.status)")
            }
            #expect(try await c.call(.get, "/volume/v3/volumes?all_tenants=1", token: admin)["volumes"]?.array.count == 1)
            // A reader of the owner's project reads and writes nothing.
            let reader = try await c.makeMember(admin: admin, name: "reader", role: "reader")
            let readerToken = try await c.token("reader", "pw", project: reader.projectName)
            #expect(try await c.call(.post, "/volume/v3/volumes", token: readerToken, json: ["volume": ["size": 1]]).status == .forbidden)
            #expect(try await c.call(.get, "/volume/v3/volumes", token: readerToken).status == .ok)
            #expect(try await c.call(.post, "/volume/v3/types", token: ownerToken, json: ["volume_type": ["name": "t"]]).status == .forbidden)
            #expect(try await c.call(.get, "/volume/v3/volumes/\(id)", token: ownerToken)["volume"]?["os-vol-host-attr:host"] == nil)
        }
    }
}
