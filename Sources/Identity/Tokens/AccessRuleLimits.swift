import MartletCore

/// Enforces an application credential's access rules on its tokens, as keystonemiddleware does in
/// front of every OpenStack service: a request passes when one rule names its service type, its
/// method and a path pattern matching its path. Validating a token is always allowed.
struct AccessRuleLimits: RequestLimits {
    let rules: [AccessRule]

    func allows(serviceType: String?, method: String, path: String) -> Bool {
        guard let serviceType else { return false }
        if serviceType == "identity" && method == "GET" && path.hasSuffix("/v3/auth/tokens") { return true }
        return rules.contains { $0.service == serviceType && $0.method == method && Self.matches(path, pattern: $0.path) }
    }

    private enum Token: Equatable {
        case byte(UInt8)
        /// `*` or `{name}`: one path segment, at least one character, no `/`.
        case segment
        /// `**`: anything, `/` included, possibly nothing.
        case anything
    }

    private static func tokens(_ pattern: String) -> [Token] {
        let bytes = Array(pattern.utf8)
        var tokens: [Token] = []
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "*") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                tokens.append(.anything)
                i += 2
            case UInt8(ascii: "*"):
                tokens.append(.segment)
                i += 1
            case UInt8(ascii: "{"):
                if let close = bytes[i...].firstIndex(of: UInt8(ascii: "}")) {
                    tokens.append(.segment)
                    i = close + 1
                } else {
                    tokens.append(.byte(bytes[i]))
                    i += 1
                }
            default:
                tokens.append(.byte(bytes[i]))
                i += 1
            }
        }
        return tokens
    }

    /// Whether the whole path matches the pattern (dynamic programming over pattern × path suffixes).
    static func matches(_ path: String, pattern: String) -> Bool {
        let tokens = tokens(pattern), bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/")
        // next[j]: the tokens after the current one match bytes[j...]
        var next = [Bool](repeating: false, count: bytes.count + 1)
        next[bytes.count] = true
        for token in tokens.reversed() {
            var current = [Bool](repeating: false, count: bytes.count + 1)
            for j in stride(from: bytes.count, through: 0, by: -1) {
                switch token {
                case .byte(let b):
                    current[j] = j < bytes.count && bytes[j] == b && next[j + 1]
                case .anything:
                    current[j] = next[j] || (j < bytes.count && current[j + 1])
                case .segment:
                    // take bytes[j], then either stop here or keep taking
                    current[j] = j < bytes.count && bytes[j] != slash && (next[j + 1] || current[j + 1])
                }
            }
            next = current
        }
        return next[0]
    }
}
