import Foundation
import MartletCore

/// What services that take other credentials than a token need from Identity: Swift's legacy
/// v1 auth (a user name and password) and S3's signatures (EC2 access keys).
public protocol CredentialAuthority: Sendable {
    /// A token scoped to `project` for `user` (both names in the default domain), or nil when the
    /// user, project or password is wrong or the user has no role there.
    func issueToken(projectName: String, userName: String, password: String) async throws -> (token: String, auth: AuthContext)?
    /// The secret behind an EC2 access key, the project it acts for, and the caller it stands for now
    /// (as Keystone's `ec2tokens` would authorise it), or nil when no such key exists.
    func ec2Credential(access: String) async throws -> EC2Credential?
}

public struct EC2Credential: Sendable {
    public var access: String
    public var secret: String
    public var userID: String
    public var projectID: String
    /// The user's current standing on the project (enabled user, enabled project, the roles held
    /// there now); nil when that access has ended. Checked after the signature, on every request.
    public var auth: AuthContext?

    public init(access: String, secret: String, userID: String, projectID: String, auth: AuthContext?) {
        self.access = access
        self.secret = secret
        self.userID = userID
        self.projectID = projectID
        self.auth = auth
    }
}
