/// Replacing rules of a service's table, as an operator's policy file replaces oslo.policy defaults:
/// a named rule given here wins over the default of the same name; the others stay.
extension Policy {
    public func overriding(_ overrides: [String: PolicyRule]) -> Policy {
        Policy(rules.merging(overrides) { _, override in override })
    }
}

extension APICall {
    /// Whether `rule` lets the caller act on `target` (the path parameters are part of the target,
    /// as for the route's own rule).
    public func allowed(_ rule: String, _ target: [String: String] = [:]) -> Bool {
        var full = target
        for (key, value) in context.parameters { full[String(key)] = full[String(key)] ?? String(value) }
        return can(rule, full)
    }
}
