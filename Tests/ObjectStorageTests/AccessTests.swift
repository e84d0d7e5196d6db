import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import MartletCore
import MartletTestSupport
import Testing
@testable import ObjectStorage

/// Who may reach an account: EC2 credentials only where their user has a role, S3 only while that
/// access lasts, readers only reading, in Swift and in S3.
@Suite struct AccessTests {
    /// Runs `body` with the cloud's client, an admin token and a way to reach the S3 listener.
    func withCloudAndS3(_ body: @Sendable (Client, String, @Sendable (TestSigner) -> S3Client) async throws -> Void) async throws {
        let cloud = try await objectCloud()
        defer { Task { await cloud.close() } }
        try await cloud.serve { client in
            let admin = try await client.token()
            let app = Application(router: cloud.objects.s3Router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await app.test(.live) { http in
                try await body(client, admin, { S3Client(http: http, signer: $0) })
            }
        }
    }

    func ec2(_ c: Client, _ token: String, user: String, project: String) async throws -> Reply {
        try await c.call(.post, "/identity/v3/users/\(user)/credentials/OS-EC2", token: token, json: ["tenant_id": .string(project)])
    }

    func signer(_ reply: Reply) -> TestSigner {
        TestSigner(access: reply["credential"]?["access"]?.stringValue ?? "", secret: reply["credential"]?["secret"]?.stringValue ?? "")
    }

    @Test func ec2CredentialsActOnlyWhereTheirUserHasARole() async throws {
        try await withCloudAndS3 { c, admin, s3 in
            let a = try await c.makeMember(admin: admin, name: "alice", password: "pw")
            let b = try await c.makeMember(admin: admin, name: "bob", password: "pw")
            let alice = try await c.token("alice", "pw", project: a.projectName)
            let bob = try await c.token("bob", "pw", project: b.projectName)
            #expect(try await c.call(.put, "/object-store/v1/AUTH_\(a.project)/secret", token: alice).status == .created)

            // Bob has no role on A: neither the EC2 route nor /v3/credentials makes him a key for it.
            let stolen = try await ec2(c, bob, user: b.user, project: a.project)
            #expect(stolen.status == .forbidden, "OS-EC2 for another project answered \(stolen.status)")
            let blob = JSON.object(["access": "bob-for-a", "secret": "s"]).text
            let viaCredentials = try await c.call(.post, "/identity/v3/credentials", token: bob, json: [
                "credential": ["user_id": .string(b.user), "project_id": .string(a.project), "type": "ec2", "blob": .string(blob)]])
            #expect(viaCredentials.status == .forbidden, "/v3/credentials for another project answered \(viaCredentials.status)")
            // Nor for someone else, nor by moving his own key over.
            #expect(try await ec2(c, bob, user: a.user, project: a.project).status == .forbidden)
            let own = try await ec2(c, bob, user: b.user, project: b.project)
            #expect(own.status == .created)
            let ownID = try await c.call(.get, "/identity/v3/credentials?type=ec2", token: bob)["credentials"]?.array.first?["id"]?.stringValue ?? ""
            let moved = try await c.call(.patch, "/identity/v3/credentials/\(ownID)", token: bob, json: ["credential": ["project_id": .string(a.project)]])
            #expect(moved.status == .forbidden, "moving a key to another project answered \(moved.status)")
            #expect(try await s3(signer(own)).send(.get, "/secret").status == .notFound)

            // An admin may still make one (as tempest does); it reaches nothing until the user has a role there.
            let adminMade = try await ec2(c, admin, user: b.user, project: a.project)
            #expect(adminMade.status == .created)
            let refused = try await s3(signer(adminMade)).send(.get, "/")
            #expect(refused.status == .forbidden && String(buffer: refused.body).contains("AccessDenied"))
        }
    }

    @Test func s3StopsWhenAccessEnds() async throws {
        try await withCloudAndS3 { c, admin, s3 in
            let roleID = try await c.call(.get, "/identity/v3/roles?name=member", token: admin)["roles"]?.array.first?["id"]?.stringValue ?? ""
            for ending in ["user disabled", "role removed", "project disabled"] {
                let a = try await c.makeMember(admin: admin)
                let made = try await ec2(c, admin, user: a.user, project: a.project)
                let client = s3(signer(made))
                #expect(try await client.send(.put, "/bucket").status == .ok, "\(ending): before")
                let undo: Reply
                switch ending {
                case "user disabled": undo = try await c.call(.patch, "/identity/v3/users/\(a.user)", token: admin, json: ["user": ["enabled": false]])
                case "role removed": undo = try await c.call(.delete, "/identity/v3/projects/\(a.project)/users/\(a.user)/roles/\(roleID)", token: admin)
                default: undo = try await c.call(.patch, "/identity/v3/projects/\(a.project)", token: admin, json: ["project": ["enabled": false]])
                }
                #expect(undo.status.code < 300, "\(ending): \(undo.status)")
                for (method, path) in [(HTTPRequest.Method.get, "/"), (.get, "/bucket"), (.put, "/bucket/k")] {
                    let after = try await client.send(method, path, body: method == .put ? Array("x".utf8) : [])
                    #expect(after.status == .forbidden, "\(ending): \(method) \(path) answered \(after.status)")
                }
            }
        }
    }

    @Test func readersOnlyRead() async throws {
        try await withCloudAndS3 { c, admin, s3 in
            let a = try await c.makeMember(admin: admin, name: "owner", password: "pw")
            let owner = try await c.token("owner", "pw", project: a.projectName)
            let account = "/object-store/v1/AUTH_\(a.project)"
            #expect(try await c.call(.put, "\(account)/box", token: owner).status == .created)
            #expect(try await c.call(.put, "\(account)/box/o", token: owner, raw: Array("data".utf8)).status == .created)
            let readerID = try await c.call(.post, "/identity/v3/users", token: admin, json: ["user": ["name": "rita", "password": "pw"]])["user"]?["id"]?.stringValue ?? ""
            let readerRole = try await c.call(.get, "/identity/v3/roles?name=reader", token: admin)["roles"]?.array.first?["id"]?.stringValue ?? ""
            #expect(try await c.call(.put, "/identity/v3/projects/\(a.project)/users/\(readerID)/roles/\(readerRole)", token: admin).status == .noContent)
            let reader = try await c.token("rita", "pw", project: a.projectName)

            #expect(try await c.call(.get, account, token: reader).status == .ok)
            #expect(try await c.call(.get, "\(account)/box", token: reader).status == .ok)
            #expect(try await c.call(.get, "\(account)/box/o", token: reader).bytes == Array("data".utf8))
            let writes: [(HTTPRequest.Method, String, [String: String], [UInt8]?)] = [
                (.put, "\(account)/box/new", [:], Array("x".utf8)),
                (.put, "\(account)/other", [:], nil),
                (.delete, "\(account)/box/o", [:], nil),
                (.post, "\(account)/box", ["X-Container-Read": ".r:*"], nil),
                (.post, "\(account)", ["X-Account-Meta-Temp-URL-Key": "k"], nil),
                (.post, "\(account)/box/o", ["X-Object-Meta-A": "b"], nil),
                (.delete, "\(account)/box", [:], nil),
                (.post, "\(account)?bulk-delete", ["Content-Type": "text/plain"], Array("/box/o\n".utf8)),
                (HTTPRequest.Method("COPY")!, "\(account)/box/o", ["Destination": "box/copy"], nil),
            ]
            for (method, path, headers, body) in writes {
                let reply = try await c.call(method, path, token: reader, raw: body ?? [], headers: headers)
                #expect(reply.status == .forbidden, "reader \(method) \(path) answered \(reply.status)")
            }
            #expect(try await c.call(.get, "\(account)/box/o", token: owner).bytes == Array("data".utf8))
            #expect(try await c.call(.head, "\(account)/box/new", token: owner).status == .notFound)

            // S3 with the reader's own EC2 key: reads, and nothing else.
            let key = try await ec2(c, reader, user: readerID, project: a.project)
            #expect(key.status == .created)
            let client = s3(signer(key))
            #expect(try await client.send(.get, "/box").status == .ok)
            #expect(try await client.send(.get, "/box/o").status == .ok)
            for (method, path) in [(HTTPRequest.Method.put, "/box/s3"), (.delete, "/box/o"), (.put, "/newbucket"), (.delete, "/box")] {
                let reply = try await client.send(method, path, body: method == .put ? Array("y".utf8) : [])
                #expect(reply.status == .forbidden, "reader S3 \(method) \(path) answered \(reply.status)")
            }
            // An application credential limited to reader is a reader too.
            let appCred = try await c.call(.post, "/identity/v3/users/\(a.user)/application_credentials", token: owner,
                                           json: ["application_credential": ["name": "ro", "roles": [["name": "reader"]]]])
            let secret = appCred["application_credential"]?["secret"]?.stringValue ?? ""
            let appID = appCred["application_credential"]?["id"]?.stringValue ?? ""
            let auth: JSON = ["auth": ["identity": ["methods": ["application_credential"],
                                                    "application_credential": ["id": .string(appID), "secret": .string(secret)]]]]
            let issued = try await c.call(.post, "/identity/v3/auth/tokens", json: auth)
            let limited = try #require(issued.header("X-Subject-Token"))
            #expect(try await c.call(.get, "\(account)/box/o", token: limited).status == .ok)
            #expect(try await c.call(.put, "\(account)/box/app", token: limited, raw: Array("z".utf8)).status == .forbidden)
        }
    }
}
