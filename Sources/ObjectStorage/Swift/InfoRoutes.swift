import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// The anonymous endpoints around the API: capabilities (`/info`), health, the Flash
/// cross-domain policy, and the legacy v1 auth that old clients log in with.
struct InfoRoutes {
    let service: ObjectStorageService

    func register(_ group: RouterGroup<MartletContext>) {
        group.get("info") { _, _ in Self.info() }
        group.get("healthcheck") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "OK")))
        }
        group.get("crossdomain.xml") { _, _ in
            let policy = """
                <?xml version="1.0"?>
                <!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >
                <cross-domain-policy>
                <allow-access-from domain="*" secure="false" />
                </cross-domain-policy>
                """
            return Response(status: .ok, headers: [.contentType: "application/xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: policy)))
        }
        for path in ["auth/v1.0", "v1.0"] {
            group.get(RouterPath(path)) { request, _ in try await legacyAuth(request) }
        }
    }

    /// `X-Auth-User: project:user` and `X-Auth-Key: password` for a token and the storage URL.
    private func legacyAuth(_ request: Request) async throws -> Response {
        guard let user = request.header("X-Auth-User") ?? request.header("X-Storage-User"),
              let key = request.header("X-Auth-Key") ?? request.header("X-Storage-Pass") else {
            throw APIError.unauthorized("Unauthorized: X-Auth-User and X-Auth-Key are required.")
        }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2,
              let (token, auth) = try await service.credentials.issueToken(projectName: parts[0], userName: parts[1], password: key),
              let project = auth.projectID else {
            throw APIError.unauthorized("Unauthorized: the user, project or key is wrong.")
        }
        return Response(status: .ok, headers: [
            .authToken: token, HTTPField.Name("X-Storage-Token")!: token,
            HTTPField.Name("X-Storage-Url")!: "\(service.publicURL)/object-store/v1/AUTH_\(project)",
            HTTPField.Name("X-Auth-Token-Expires")!: String(max(0, Int(auth.expiresAt.timeIntervalSinceNow))),
            .contentType: "text/plain; charset=utf-8", .contentLength: "0",
        ])
    }

    /// What this store implements, in Swift's `/info` shape (clients and tempest pick features from it).
    static func info() -> Response {
        let body: JSON = [
            "swift": [
                "version": "2.38.3", "strict_cors_mode": true,
                "policies": [["name": "Policy-0", "aliases": "Policy-0", "default": true]],
                "allow_account_management": false, "account_autocreate": true, "allow_open_expired": false,
                "max_file_size": .int(Limits.maxFileSize), "max_meta_name_length": .int(Int64(Limits.metaNameLength)),
                "max_meta_value_length": .int(Int64(Limits.metaValueLength)), "max_meta_count": .int(Int64(Limits.metaCount)),
                "max_meta_overall_size": .int(Int64(Limits.metaOverallSize)), "max_header_size": 8192, "max_request_line": 8192,
                "max_object_name_length": .int(Int64(Limits.objectNameLength)),
                "container_listing_limit": .int(Int64(Limits.listingLimit)), "account_listing_limit": .int(Int64(Limits.listingLimit)),
                "max_account_name_length": 256, "max_container_name_length": .int(Int64(Limits.containerNameLength)),
                "valid_api_versions": ["v1", "v1.0"], "extra_header_count": 0,
            ],
            "slo": ["max_manifest_segments": .int(Int64(LargeObjects.maxSegments)), "max_manifest_size": 8_388_608,
                    "yield_frequency": 10, "min_segment_size": 1, "allow_async_delete": false],
            "bulk_upload": ["max_containers_per_extraction": 10000, "max_failed_extractions": 1000],
            "bulk_delete": ["max_deletes_per_request": .int(Int64(BulkRoutes.maxDeletes)), "max_failed_deletes": 1000],
            "tempurl": ["methods": ["GET", "HEAD", "PUT", "POST", "DELETE"], "incoming_remove_headers": ["x-timestamp"],
                        "incoming_allow_headers": [], "outgoing_remove_headers": ["x-object-meta-*"],
                        "outgoing_allow_headers": ["x-object-meta-public-*"], "allowed_digests": ["sha1", "sha256", "sha512"]],
            "versioned_writes": ["allowed_flags": ["x-versions-location", "x-history-location"]],
            "symlink": ["symloop_max": .int(Int64(Symlinks.maxHops)), "static_links": false],
            "account_quotas": [:], "container_quotas": [:], "crossdomain": [:], "formpost": [:], "staticweb": [:],
        ]
        return .json(.ok, body, headers: [.contentType: "application/json; charset=utf-8"])
    }
}
