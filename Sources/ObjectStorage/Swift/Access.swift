import Foundation
import HTTPTypes
import Hummingbird
import MartletCore

/// The roles keystoneauth reads: which own their project's account, which may only read it, and
/// which reaches every account.
public struct AccessRoles: Sendable {
    public var operators: Set<String>
    public var readers: Set<String>
    public var resellerAdmin: String

    public init(_ config: MartletConfig) {
        operators = Set(config.objectOperatorRoles)
        readers = Set(config.objectReaderRoles)
        resellerAdmin = config.objectResellerAdminRole
    }
}

/// Who may do what to an account, following Swift's keystoneauth: a token for the account's
/// project with an operator role (or an `admin` or reseller-admin token) owns it; one with only a
/// reader role may read it; others get what the container's `X-Container-Read` /
/// `X-Container-Write` ACLs grant; anonymous callers only `.r:` reads.
struct Access: Sendable {
    let auth: AuthContext?
    let referrer: String?
    let roles: AccessRoles

    static let resellerRole = "ResellerAdmin"

    func owns(_ account: String) -> Bool {
        guard let auth else { return false }
        if isReseller { return true }
        return isProject(account) && auth.roles.contains { roles.operators.contains($0.name) }
    }

    /// Whether the caller may read everything in the account (and change nothing, unless it owns it).
    func reads(_ account: String) -> Bool {
        guard let auth else { return false }
        return owns(account) || (isProject(account) && auth.roles.contains { roles.readers.contains($0.name) })
    }

    private func isProject(_ account: String) -> Bool { auth?.projectID.map { "AUTH_" + $0 == account } ?? false }

    var isReseller: Bool { auth.map { $0.hasRole("admin") || $0.hasRole(roles.resellerAdmin) } ?? false }

    /// The refusal for a caller the rules do not let in: 401 when anonymous, 403 otherwise.
    var denied: APIError {
        auth == nil ? APIError(.unauthorized, "Unauthorized. This server could not verify that you are authorized to access the document you requested.")
            : APIError(.forbidden, "Forbidden. Access was denied to this resource.")
    }

    /// Whether a read ACL lets this caller read objects (or list, when `listing`).
    func canRead(acl: String?, listing: Bool) -> Bool {
        let entries = Self.entries(acl)
        if entries.contains(where: matchesUser) { return true }
        let referrers = entries.filter { $0.hasPrefix(".r:") }.map { String($0.dropFirst(3)) }
        guard refererAllowed(referrers) else { return false }
        return !listing || entries.contains(".rlistings")
    }

    func canWrite(acl: String?) -> Bool { Self.entries(acl).contains(where: matchesUser) }

    /// `project:user` (IDs or names, `*` for any) or a role name.
    private func matchesUser(_ entry: String) -> Bool {
        guard let auth, !entry.hasPrefix(".") else { return false }
        let parts = entry.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return auth.hasRole(entry) }
        var projectIDs: [String] = [], projectNames: [String] = []
        if case .project(let id, let name, _, _) = auth.scope { projectIDs = [id]; projectNames = [name] }
        let projectOK = parts[0] == "*" || projectIDs.contains(parts[0]) || projectNames.contains(parts[0])
        let userOK = parts[1] == "*" || parts[1] == auth.userID || parts[1] == auth.userName
        return projectOK && userOK
    }

    /// `.r:*` lets everyone in; `.r:host` or `.r:.domain` the matching referrers; `.r:-x` shuts x out.
    private func refererAllowed(_ rules: [String]) -> Bool {
        guard !rules.isEmpty else { return false }
        let host = referrer.flatMap { URLComponents(string: $0)?.host } ?? ""
        var allowed = false
        for rule in rules {
            let negative = rule.hasPrefix("-")
            let pattern = negative ? String(rule.dropFirst()) : rule
            let matches = pattern == "*" || (pattern.hasPrefix(".") ? host.hasSuffix(pattern) : host == pattern)
            if matches { allowed = !negative }
        }
        return allowed
    }

    static func entries(_ acl: String?) -> [String] {
        (acl ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
