@testable import BlockStorage
import DriverKit
import Foundation
import MartletCore
import MartletTestSupport
import Testing

/// What 3.28 to 3.41 add, and that an earlier request does not see it.
@Suite struct LaterMicroversionTests {
    static func at(_ version: String) -> [String: String] { VolumeMicroversionTests.at(version) }

    @Test func filtersAreCheckedAndLikeFiltersMatchParts() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "filterer")
            let token = try await c.token("filterer", "pw", project: member.projectName)
            let alpha = try await c.makeVolume(token, extra: ["name": "alpha-one", "metadata": ["tier": "gold"]])
            _ = try await c.makeVolume(token, extra: ["name": "beta-two", "metadata": ["tier": "gold", "zone": "b"]])

            // 3.31: a filter the configuration does not list is a 400 for a member; before, it is ignored.
            let refused = try await c.call(.get, "/volume/v3/volumes?user_id=x&name=alpha-one", token: token, headers: Self.at("3.31"))
            #expect(refused.status == .badRequest && refused["badRequest"]?["message"] == "Invalid input received: Invalid filters user_id are found in query options.")
            #expect(try await c.call(.get, "/volume/v3/volumes?user_id=x", token: token, headers: Self.at("3.30"))["volumes"]?.array.count == 2)
            // `all_tenants` is dropped, not refused; listed filters still work.
            let named = try await c.call(.get, "/volume/v3/volumes?all_tenants=1&name=alpha-one", token: token, headers: Self.at("3.31"))
            #expect(named["volumes"]?.array.map { $0["id"]?.stringValue } == [alpha])
            for resource in ["snapshots", "backups", "attachments"] {
                #expect(try await c.call(.get, "/volume/v3/\(resource)?bogus=1", token: token, headers: Self.at("3.31")).status == .badRequest, "\(resource)")
            }
            // 3.34: `name~` is not configured, so a member may not; an admin matches a part of the name.
            #expect(try await c.call(.get, "/volume/v3/volumes?name~=alpha", token: token, headers: Self.at("3.34")).status == .badRequest)
            let like = try await c.call(.get, "/volume/v3/volumes?all_tenants=1&name~=pha-o", token: admin, headers: Self.at("3.34"))
            #expect(like["volumes"]?.array.map { $0["id"]?.stringValue } == [alpha])
            // 3.33: the configuration itself, to anyone with a token.
            let filters = try await c.call(.get, "/volume/v3/resource_filters?resource=volume", token: token, headers: Self.at("3.33"))
            #expect(filters["resource_filters"]?.array.count == 1 && filters["resource_filters"]?.array.first?["filters"]?.array.contains("name") == true)
            #expect(try await c.call(.get, "/volume/v3/resource_filters", token: token, headers: Self.at("3.32")).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/resource_filters?resource=nothing", token: token, headers: Self.at("3.33"))["resource_filters"] == [])

            // 3.36: the summary's metadata, every key with its values.
            let summary = try await c.call(.get, "/volume/v3/volumes/summary", token: token, headers: Self.at("3.36"))["volume-summary"]
            #expect(summary?["metadata"] == ["tier": ["gold"], "zone": ["b"]] && summary?["total_count"] == 2)
            #expect(try await c.call(.get, "/volume/v3/volumes/summary", token: token, headers: Self.at("3.35"))["volume-summary"]?["metadata"] == nil)
        }
    }

    @Test func poolsServicesLimitsAndLogLevels() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let pools = "/volume/v3/scheduler-stats/get_pools"
            // 3.28: filters on the pool's name and capabilities; ignored before.
            #expect(try await c.call(.get, "\(pools)?vendor_name=Nobody", token: admin, headers: Self.at("3.27"))["pools"]?.array.count == 1)
            #expect(try await c.call(.get, "\(pools)?vendor_name=Nobody", token: admin, headers: Self.at("3.28"))["pools"] == [])
            #expect(try await c.call(.get, "\(pools)?vendor_name=Martlet&multiattach=true", token: admin, headers: Self.at("3.28"))["pools"]?.array.count == 1)
            // From 3.31 only the configured pool filters, even for admins.
            #expect(try await c.call(.get, "\(pools)?vendor_name=Martlet", token: admin, headers: Self.at("3.31")).status == .badRequest)
            // 3.35: a volume type the pool can or cannot take.
            _ = try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "elsewhere", "extra_specs": ["vendor_name": "Nobody"]]])
            _ = try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "here"]])
            #expect(try await c.call(.get, "\(pools)?volume_type=elsewhere", token: admin, headers: Self.at("3.35"))["pools"] == [])
            #expect(try await c.call(.get, "\(pools)?volume_type=here", token: admin, headers: Self.at("3.35"))["pools"]?.array.count == 1)
            #expect(try await c.call(.get, "\(pools)?volume_type=missing", token: admin, headers: Self.at("3.35")).status == .notFound)

            // 3.39: an admin reads another project's limits.
            let other = try await c.makeMember(admin: admin, name: "limited")
            let otherToken = try await c.token("limited", "pw", project: other.projectName)
            _ = try await c.makeVolume(otherToken, size: 3)
            let theirs = try await c.call(.get, "/volume/v3/limits?project_id=\(other.project)", token: admin, headers: Self.at("3.39"))
            #expect(theirs["limits"]?["absolute"]?["totalGigabytesUsed"] == 3)
            #expect(try await c.call(.get, "/volume/v3/limits?project_id=\(other.project)", token: admin, headers: Self.at("3.38"))["limits"]?["absolute"]?["totalGigabytesUsed"] == 0)
            #expect(try await c.call(.get, "/volume/v3/limits?project_id=nobody", token: otherToken, headers: Self.at("3.39"))["limits"]?["absolute"]?["totalGigabytesUsed"] == 3)

            // 3.32: log levels read and set by prefix, admins only, 404 before.
            let label = cloud.blockStorage.logger.label
            let getLog = try await c.call(.put, "/volume/v3/os-services/get-log", token: admin, json: ["prefix": .string(label)], headers: Self.at("3.32"))
            #expect(getLog["log_levels"]?.array.count == 4)
            #expect(try await c.call(.put, "/volume/v3/os-services/set-log", token: admin, json: ["level": "debug", "prefix": .string(label)], headers: Self.at("3.32")).status == .accepted)
            #expect(LogLevels.shared.level(for: label) == .debug)
            let after = try await c.call(.put, "/volume/v3/os-services/get-log", token: admin, json: ["binary": "cinder-volume", "prefix": .string(label)], headers: Self.at("3.32"))
            #expect(after["log_levels"]?.array.map { $0["levels"]?[label] } == ["DEBUG"] && after["log_levels"]?.array.first?["binary"] == "cinder-volume")
            #expect(try await c.call(.put, "/volume/v3/os-services/set-log", token: admin, json: ["level": "loud"], headers: Self.at("3.32")).status == .badRequest)
            #expect(try await c.call(.put, "/volume/v3/os-services/set-log", token: admin, json: ["binary": "nova-api", "level": "info"], headers: Self.at("3.32")).status == .badRequest)
            #expect(try await c.call(.put, "/volume/v3/os-services/set-log", token: admin, json: ["level": "info"], headers: Self.at("3.31")).status == .notFound)
            #expect(try await c.call(.put, "/volume/v3/os-services/set-log", token: otherToken, json: ["level": "info"], headers: Self.at("3.32")).status == .forbidden)
            #expect(try await c.call(.put, "/volume/v3/os-services/set-log", token: admin, json: ["level": "INFO", "prefix": .string(label)], headers: Self.at("3.32")).status == .accepted)
            #expect(LogLevels.shared.level(for: label) == .info)
        }
    }

    @Test func revertGivesTheVolumeItsLatestSnapshot() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let member = try await c.makeMember(admin: admin, name: "reverter")
            let token = try await c.token("reverter", "pw", project: member.projectName)
            let volume = try await c.makeVolume(token)
            func revert(_ snapshot: String?, _ version: String = "3.40", as who: String? = nil) async throws -> Reply {
                try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: who ?? token,
                                 json: ["revert": ["snapshot_id": snapshot.map { .string($0) } ?? .null]], headers: Self.at(version))
            }
            #expect(try await revert("x").status == .badRequest, "a volume with no snapshot")
            func snapshot(_ name: String) async throws -> String {
                let made = try await c.call(.post, "/volume/v3/snapshots", token: token, json: ["snapshot": ["volume_id": .string(volume), "name": .string(name)]])
                let id = try #require(made["snapshot"]?["id"]?.stringValue)
                try await c.waitFor("snapshots", id, "available", token: token, seconds: 20)
                return id
            }
            let first = try await snapshot("first")
            try await Task.sleep(for: .milliseconds(5))
            let latest = try await snapshot("latest")
            let older = try await revert(first)
            #expect(older.status == .badRequest && older["badRequest"]?["message"]?.stringValue?.contains("not the latest one") == true)
            #expect(try await revert(latest, "3.39").status == .notFound, "no such action before 3.40")
            // Another project may not.
            let stranger = try await c.makeMember(admin: admin, name: "stranger")
            let strangerToken = try await c.token("stranger", "pw", project: stranger.projectName)
            #expect(try await revert(latest, as: strangerToken).status == .notFound)

            #expect(try await revert(latest).status == .accepted)
            try await c.waitForVolume(volume, "available", token: token)
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(latest)", token: token)["snapshot"]?["status"] == "available")
            #expect((cloud.blockStorage.driver as? FakeVolumeDriver)?.origin(volume) == "snapshot \(latest)", "the driver was not asked to revert")

            // An extended volume no longer matches its snapshot's size.
            #expect(try await c.call(.post, "/volume/v3/volumes/\(volume)/action", token: token, json: ["os-extend": ["new_size": 2]]).status == .accepted)
            try await c.waitForVolume(volume, "available", token: token)
            let grown = try await revert(latest)
            #expect(grown.status == .badRequest && grown["badRequest"]?["message"]?.stringValue?.contains("size must be equal") == true)
        }
    }

    @Test func groupSnapshotsPageAndReplicationIsRefused() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let groupType = try #require(try await c.call(.post, "/volume/v3/group_types", token: admin,
                                                          json: ["group_type": ["name": "gt"]], headers: Self.at("3.11"))["group_type"]?["id"]?.stringValue)
            let volumeType = try #require(try await c.call(.post, "/volume/v3/types", token: admin, json: ["volume_type": ["name": "vt"]])["volume_type"]?["id"]?.stringValue)
            let group = try #require(try await c.call(.post, "/volume/v3/groups", token: admin, json: ["group": [
                "name": "g", "group_type": .string(groupType), "volume_types": [.string(volumeType)]]], headers: Self.at("3.13"))["group"]?["id"]?.stringValue)
            for name in ["gs-a", "gs-b", "gs-c"] {
                let made = try await c.call(.post, "/volume/v3/group_snapshots", token: admin, json: ["group_snapshot": ["group_id": .string(group), "name": .string(name)]],
                                            headers: Self.at("3.14"))
                #expect(made.status == .accepted, "\(made.body?.text ?? "")")
            }
            // 3.29: sorted and paged; before, the query is ignored.
            let page = try await c.call(.get, "/volume/v3/group_snapshots?sort=name:asc&limit=2", token: admin, headers: Self.at("3.29"))
            #expect(page["group_snapshots"]?.array.map { $0["name"]?.stringValue } == ["gs-a", "gs-b"] && page["group_snapshot_links"] != nil)
            #expect(try await c.call(.get, "/volume/v3/group_snapshots?sort=name:asc&limit=2", token: admin, headers: Self.at("3.28"))["group_snapshots"]?.array.count == 3)
            #expect(try await c.call(.get, "/volume/v3/group_snapshots/detail?name=gs-c", token: admin, headers: Self.at("3.29"))["group_snapshots"]?.array.count == 1)

            // 3.38: a group whose type does not ask for replication cannot be replicated; its view says so.
            let replicate = try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["enable_replication": [:]], headers: Self.at("3.38"))
            #expect(replicate.status == .badRequest && replicate["badRequest"]?["message"]?.stringValue?.contains("not a replication group type") == true)
            #expect(try await c.call(.post, "/volume/v3/groups/\(group)/action", token: admin, json: ["enable_replication": [:]], headers: Self.at("3.37")).status == .notFound)
            #expect(try await c.call(.get, "/volume/v3/groups/\(group)", token: admin, headers: Self.at("3.38"))["group"]?["replication_status"] == "disabled")
            #expect(try await c.call(.get, "/volume/v3/groups/\(group)", token: admin, headers: Self.at("3.37"))["group"]?["replication_status"] == nil)
        }
    }

    @Test func snapshotsShowTheirUserAndBackupsSortByName() async throws {
        let cloud = try await volumeCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { c in
            let admin = try await c.token()
            let volume = try await c.makeVolume(admin)
            let made = try await c.call(.post, "/volume/v3/snapshots", token: admin, json: ["snapshot": ["volume_id": .string(volume), "name": "s"]])
            let id = try #require(made["snapshot"]?["id"]?.stringValue)
            try await c.waitFor("snapshots", id, "available", token: admin, seconds: 20)
            // 3.41: the snapshot's user, in its details only.
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(id)", token: admin, headers: Self.at("3.41"))["snapshot"]?["user_id"]?.stringValue?.isEmpty == false)
            #expect(try await c.call(.get, "/volume/v3/snapshots/\(id)", token: admin, headers: Self.at("3.40"))["snapshot"]?["user_id"] == nil)
            #expect(try await c.call(.get, "/volume/v3/snapshots", token: admin, headers: Self.at("3.41"))["snapshots"]?.array.first?["user_id"] == nil)
            // 3.30: snapshots sort by name.
            #expect(try await c.call(.get, "/volume/v3/snapshots?sort=name", token: admin, headers: Self.at("3.30")).status == .ok)
        }
    }
}
