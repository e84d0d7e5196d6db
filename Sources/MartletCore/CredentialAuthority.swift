import Foundation

/// What services that take other credentials than a token need from Identity: Swift's legacy
/// v1 auth (a user name and password) and S3's signatures (EC2 access keys).
public protocol CredentialAuthority: Sendable {
    /// A token scoped to `project` for `user` (both names in the default domain), or nil when the
    /// user, project or password is wrong or the user has no role there.
    func issueToken(projectName: String, userName: String, password: String) async throws -> (token: String, auth: AuthContext)?
    /// The secret behind an EC2 access key and the project it acts for.
    func ec2Credential(access: String) async throws -> EC2Credential?
}

public struct EC2Credential: Sendable {
    public var access: String
    public var secret: String
    public var userID: String
    public var projectID: String

    public init(access: String, secret: String, userID: String, projectID: String) {
        self.access = access
        self.secret = secret
        self.userID = userID
        self.projectID = projectID
    }
}
