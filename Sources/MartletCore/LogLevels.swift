import Logging
import Synchronization

/// Log levels an admin may change while the process runs (Block Storage's `set-log`): a
/// logger's level is the one last set for the longest prefix of its label, else its own.
public final class LogLevels: Sendable {
    public static let shared = LogLevels()

    private struct State {
        var set: [String: Logger.Level] = [:]
        var labels: Set<String> = []
    }
    private let state = Mutex(State())
    /// Every log call asks for its level: until a level is set, the answer needs no lock.
    private let anySet = Atomic<Bool>(false)

    public init() {}

    public func set(_ level: Logger.Level, prefix: String) {
        state.withLock { s in
            // A shorter prefix set later wins over the longer ones it covers.
            s.set = s.set.filter { !$0.key.hasPrefix(prefix) }
            s.set[prefix] = level
        }
        anySet.store(true, ordering: .releasing)
    }

    public func level(for label: String) -> Logger.Level? {
        guard anySet.load(ordering: .acquiring) else { return nil }
        return state.withLock { s in s.set.filter { label.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value }
    }

    /// The labels of the loggers made so far.
    public var labels: Set<String> { state.withLock { $0.labels } }

    func register(_ label: String) { _ = state.withLock { $0.labels.insert(label) } }
}

/// A handler whose level follows `LogLevels`; everything else is the wrapped handler's.
public struct AdjustableLogHandler: LogHandler {
    private var base: any LogHandler
    private let label: String
    private let levels: LogLevels

    public init(label: String, base: any LogHandler, levels: LogLevels = .shared) {
        (self.label, self.base, self.levels) = (label, base, levels)
        levels.register(label)
    }

    public var logLevel: Logger.Level {
        get { levels.level(for: label) ?? base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) { base.log(event: event) }
}
