import Crypto
import Foundation
import Synchronization

/// The keys tokens are sealed with, one file each in `<data>/keys/token/`, named by a rising number.
/// The highest is the primary (it seals new tokens); the others are retired keys that still open
/// tokens sealed before a rotation. Servers pick up a rotation made by `martlet admin keys rotate`.
final class TokenKeys: Sendable {
    let directory: URL
    let maxActive: Int
    private struct State {
        var keys: [UInt32: SymmetricKey] = [:]
        var loadedAt = Date.distantPast
        var modified: Date?
    }
    private let state = Mutex(State())

    init(directory: URL, maxActive: Int) throws {
        self.directory = directory
        self.maxActive = maxActive
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if try Self.read(directory).isEmpty { try rotate() }
        try reload()
    }

    /// The primary key and its number.
    func primary() throws -> (id: UInt32, key: SymmetricKey) {
        try refreshIfChanged()
        return try state.withLock { state in
            guard let id = state.keys.keys.max(), let key = state.keys[id] else { throw TokenKeyError.noKeys }
            return (id, key)
        }
    }

    func key(_ id: UInt32) -> SymmetricKey? {
        if let key = state.withLock({ $0.keys[id] }) { return key }
        try? refreshIfChanged()
        return state.withLock { $0.keys[id] }
    }

    /// Adds a new primary key and drops the oldest beyond `maxActive`.
    @discardableResult
    func rotate() throws -> UInt32 {
        let existing = try Self.read(directory)
        let next = (existing.keys.max() ?? 0) + 1
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }.base64EncodedData()
        let file = directory.appendingPathComponent(String(next))
        let temporary = directory.appendingPathComponent(".\(next).tmp")
        FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600])
        try FileManager.default.moveItem(at: temporary, to: file)
        for old in existing.keys.sorted().dropLast(max(0, maxActive - 1)) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(String(old)))
        }
        try reload()
        return next
    }

    private func refreshIfChanged() throws {
        let due = state.withLock { Date().timeIntervalSince($0.loadedAt) > 2 }
        guard due else { return }
        let modified = (try? FileManager.default.attributesOfItem(atPath: directory.path))?[.modificationDate] as? Date
        if modified != state.withLock({ $0.modified }) { try reload() } else { state.withLock { $0.loadedAt = Date() } }
    }

    private func reload() throws {
        let modified = (try? FileManager.default.attributesOfItem(atPath: directory.path))?[.modificationDate] as? Date
        let keys = try Self.read(directory)
        state.withLock { $0 = State(keys: keys, loadedAt: Date(), modified: modified) }
    }

    private static func read(_ directory: URL) throws -> [UInt32: SymmetricKey] {
        var keys: [UInt32: SymmetricKey] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            guard let id = UInt32(name),
                  let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8),
                  let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32
            else { continue }
            keys[id] = SymmetricKey(data: bytes)
        }
        return keys
    }
}

enum TokenKeyError: Error, CustomStringConvertible {
    case noKeys
    var description: String { "no token keys found; run `martlet admin keys rotate`" }
}
