import MartletCore

/// The Network service's policy table. Which rows a caller sees is decided per kind (own project,
/// shared and external networks); these rules decide who may act on what they see.
enum NetworkPolicy {
    static let admin = PolicyRule.role("admin")
    static let projectMember = PolicyRule { $0.auth.hasRole("member") && $0.auth.projectID != nil }
    static let reader = PolicyRule { $0.auth.hasRole("reader") || $0.auth.hasRole("member") }
    /// A member of the project that owns the resource (`target.project_id`).
    static let owner = PolicyRule { req in
        req.auth.hasRole("member") && req.auth.projectID != nil && req.target["project_id"] == req.auth.projectID
    }
    static let manage = admin || owner

    static let members = ResourceTable.all.map(\.member)

    static let table: Policy = {
        var rules: [String: PolicyRule] = [
            "get_extension": reader || admin,
            "get_quota": admin || PolicyRule { req in reader.allows(req) && req.target["project_id"] == req.auth.projectID },
            "get_quotas": admin,
            "update_quota": admin,
            "delete_quota": admin,
            "add_router_interface": manage,
            "remove_router_interface": manage,
            // Agents describe the cloud's hosts: Neutron shows them to admins only.
            "get_agent": admin,
            "get_service_provider": admin || reader,
            "get_availability_zone": admin || reader,
        ]
        for member in members {
            rules["get_\(member)"] = admin || reader
            rules["create_\(member)"] = admin || projectMember
            rules["update_\(member)"] = manage
            rules["delete_\(member)"] = manage
        }
        return Policy(rules)
    }()
}
