import Crypto
import Foundation
import MartletCore
import Synchronization

/// A signed-in browser: the tokens stay here, the browser holds only the session's random reference.
struct Session: Sendable {
    let id: String
    let csrf: String
    let userID: String
    let userName: String
    let domain: String
    /// Kept to rescope when the user switches project.
    let unscopedToken: String
    var token: String
    var expires: Date
    var projectID: String
    var projectName: String
    var roles: [String]
    var projects: [(id: String, name: String)]
    /// One message for the next page (what an action did, or why it failed).
    var flash: Flash?

    var isAdmin: Bool { roles.contains("admin") }
}

struct Flash: Sendable {
    let isError: Bool
    let text: String
}

/// Sessions in memory, bounded: the oldest go first when it is full, and expired ones are dropped on sight.
final class SessionStore: Sendable {
    private let sessions = Mutex<[String: Session]>([:])
    let capacity: Int

    init(capacity: Int = 10_000) { self.capacity = capacity }

    func add(_ session: Session) {
        sessions.withLock { all in
            if all.count >= capacity, let oldest = all.values.min(by: { $0.expires < $1.expires }) { all[oldest.id] = nil }
            all[session.id] = session
        }
    }

    func get(_ id: String) -> Session? {
        sessions.withLock { all in
            guard let session = all[id] else { return nil }
            if session.expires <= Date() { all[id] = nil; return nil }
            return session
        }
    }

    func update(_ id: String, _ change: (inout Session) -> Void) {
        sessions.withLock { all in if var session = all[id] { change(&session); all[id] = session } }
    }

    @discardableResult
    func remove(_ id: String) -> Session? { sessions.withLock { $0.removeValue(forKey: id) } }

    /// The one-shot message, taken as the page that shows it renders.
    func takeFlash(_ id: String) -> Flash? {
        sessions.withLock { all in
            let flash = all[id]?.flash
            all[id]?.flash = nil
            return flash
        }
    }

    /// 256 random bits as hex: session IDs and CSRF tokens.
    static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }.hex
    }
}
