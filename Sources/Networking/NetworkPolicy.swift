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
    /// A project manager (`role:manager` on the token's project); Martlet's roles do not imply
    /// reader from manager, so reads name it too.
    static let projectManager = PolicyRule { $0.auth.hasRole("manager") && $0.auth.projectID != nil }
    static let managerOwner = PolicyRule { req in projectManager.allows(req) && req.target["project_id"] == req.auth.projectID }

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
            // Agents describe the cloud's hosts: Neutron shows them to admins only. It never refuses
            // their list, though: `get_agent` filters its items, so others get an empty one.
            "get_agents": .anyone,
            "get_agent": admin,
            "update_agent": admin,
            "delete_agent": admin,
            "get_service_provider": admin || reader,
            "get_availability_zone": admin || reader,
            // Which agents host a router or a network, and moving them: admins only, as in Neutron.
            "get_l3-agents": admin,
            "get_l3-routers": admin,
            "create_l3-router": admin,
            "delete_l3-router": admin,
            "get_dhcp-agents": admin,
            "get_dhcp-networks": admin,
            "create_dhcp-network": admin,
            "delete_dhcp-network": admin,
        ]
        for member in members {
            rules["get_\(member)"] = admin || reader
            rules["create_\(member)"] = admin || projectMember
            rules["update_\(member)"] = manage
            rules["delete_\(member)"] = manage
        }
        // Metering counts router traffic for billing: Neutron lets admins and the project's managers
        // define it (older releases: admins only), and members at most read it.
        for member in [ResourceTable.meteringLabels.member, ResourceTable.meteringLabelRules.member] {
            rules["get_\(member)"] = admin || reader || projectManager
            rules["create_\(member)"] = admin || projectManager
            rules["delete_\(member)"] = admin || managerOwner
        }
        return Policy(rules)
    }()
}
