import MartletCore

/// The Compute policy table, named as Nova names its rules. Which servers a caller sees is decided
/// by project; these rules decide who may act.
enum ComputePolicy {
    static let admin = PolicyRule.role("admin")
    static let memberOrAdmin = admin || .projectMember
    static let readerOrAdmin = admin || .projectReader
    static let anyone = PolicyRule { $0.auth.projectID != nil || $0.auth.hasRole("admin") }
    /// The keypair's user (`target.user_id`) or an admin.
    static let keypairOwner = admin || PolicyRule.isUser("user_id")

    static let table: Policy = {
        var rules: [String: PolicyRule] = [
            "os_compute_api:versions": .anyone,
            "os_compute_api:flavors:index": anyone,
            "os_compute_api:os-flavor-manage:create": admin,
            "os_compute_api:os-flavor-manage:update": admin,
            "os_compute_api:os-flavor-manage:delete": admin,
            "os_compute_api:os-flavor-extra-specs:index": anyone,
            "os_compute_api:os-flavor-extra-specs:manage": admin,
            "os_compute_api:os-flavor-access": admin,
            "os_compute_api:os-keypairs:index": keypairOwner,
            "os_compute_api:os-keypairs:create": keypairOwner,
            "os_compute_api:os-keypairs:show": keypairOwner,
            "os_compute_api:os-keypairs:delete": keypairOwner,
            "os_compute_api:limits": anyone,
            "os_compute_api:os-availability-zone:list": anyone,
            "os_compute_api:os-availability-zone:detail": admin,
            "os_compute_api:os-quota-sets:show": readerOrAdmin,
            "os_compute_api:os-quota-sets:update": admin,
            "os_compute_api:os-quota-sets:delete": admin,
            "os_compute_api:os-quota-sets:defaults": anyone,
            "os_compute_api:os-hypervisors": admin,
            "os_compute_api:os-services": admin,
            "os_compute_api:os-aggregates": admin,
            "os_compute_api:os-migrations:index": admin,
            "os_compute_api:os-simple-tenant-usage:list": admin,
            "os_compute_api:os-simple-tenant-usage:show": readerOrAdmin,
            "os_compute_api:os-server-groups:index": readerOrAdmin,
            "os_compute_api:os-server-groups:show": readerOrAdmin,
            "os_compute_api:os-server-groups:create": memberOrAdmin,
            "os_compute_api:os-server-groups:delete": memberOrAdmin,
            "os_compute_api:servers:index": readerOrAdmin,
            "os_compute_api:servers:index:get_all_tenants": admin,
            "os_compute_api:servers:detail:get_all_tenants": admin,
            "os_compute_api:servers:show": readerOrAdmin,
            "os_compute_api:servers:create": memberOrAdmin,
            "os_compute_api:servers:update": memberOrAdmin,
            "os_compute_api:servers:delete": memberOrAdmin,
            "os_compute_api:servers:action": memberOrAdmin,
            "os_compute_api:os-admin-actions": admin,
            "os_compute_api:os-migrate-server": admin,
            "os_compute_api:server-metadata:index": readerOrAdmin,
            "os_compute_api:server-metadata:update": memberOrAdmin,
            "os_compute_api:os-server-tags:index": readerOrAdmin,
            "os_compute_api:os-server-tags:update": memberOrAdmin,
            "os_compute_api:ips": readerOrAdmin,
            "os_compute_api:os-attach-interfaces:list": readerOrAdmin,
            "os_compute_api:os-attach-interfaces:manage": memberOrAdmin,
            "os_compute_api:os-volumes:list": readerOrAdmin,
            "os_compute_api:os-volumes:show": readerOrAdmin,
            "os_compute_api:os-volumes:create": memberOrAdmin,
            "os_compute_api:os-volumes:delete": memberOrAdmin,
            "os_compute_api:os-volumes:snapshots:list": readerOrAdmin,
            "os_compute_api:os-volumes:snapshots:detail": readerOrAdmin,
            "os_compute_api:os-volumes:snapshots:show": readerOrAdmin,
            "os_compute_api:os-volumes:snapshots:create": memberOrAdmin,
            "os_compute_api:os-volumes:snapshots:delete": memberOrAdmin,
            "os_compute_api:os-volumes-attachments:index": readerOrAdmin,
            "os_compute_api:os-volumes-attachments:show": readerOrAdmin,
            "os_compute_api:os-volumes-attachments:create": memberOrAdmin,
            "os_compute_api:os-volumes-attachments:delete": memberOrAdmin,
            "os_compute_api:os-volumes-attachments:update": memberOrAdmin,
            "os_compute_api:os-instance-actions:list": readerOrAdmin,
            "os_compute_api:os-server-diagnostics": admin,
            "os_compute_api:os-server-migrations": admin,
            "os_compute_api:os-extended-server-attributes": admin,
        ]
        rules["os_compute_api:os-instance-actions:events"] = admin
        rules["os_compute_api:os-hosts"] = admin
        rules["os_compute_api:images"] = anyone
        // The proxy's writes are Glance's to allow, and Glance lets only members (of the owner) and admins write.
        rules["os_compute_api:images:modify"] = memberOrAdmin
        rules["os_compute_api:os-remote-consoles"] = memberOrAdmin
        rules["os_compute_api:os-console-auth-tokens"] = admin
        rules["os_compute_api:os-security-groups"] = readerOrAdmin
        for write in ["create", "update", "delete", "rule:create", "rule:delete"] {
            rules["os_compute_api:os-security-groups:\(write)"] = memberOrAdmin
        }
        rules["os_compute_api:os-networks:view"] = readerOrAdmin
        rules["os_compute_api:os-floating-ip-pools"] = anyone
        rules["os_compute_api:os-floating-ips:list"] = readerOrAdmin
        rules["os_compute_api:os-floating-ips:show"] = readerOrAdmin
        rules["os_compute_api:os-floating-ips:create"] = memberOrAdmin
        rules["os_compute_api:os-floating-ips:delete"] = memberOrAdmin
        rules["os_compute_api:os-instance-usage-audit-log"] = admin
        rules["os_compute_api:extensions"] = anyone
        rules["os_compute_api:os-server-password"] = memberOrAdmin
        rules["os_compute_api:os-server-external-events:create"] = admin || .role("service")
        // Swapping is Block Storage's callback during a volume migration: its service user's alone, as in Nova.
        rules["os_compute_api:os-volumes-attachments:swap"] = .role("service")
        // Checked inside handlers rather than on routes: who sees and may do more than the owner.
        // Nova's `is_admin`: sees other projects' servers, private flavors and images, overrides locks.
        rules[contextIsAdmin] = admin
        rules["os_compute_api:servers:allow_all_filters"] = admin
        rules["os_compute_api:servers:show:host_status"] = admin
        rules["os_compute_api:servers:create:forced_host"] = admin
        rules["os_compute_api:os-admin-actions:reset_state"] = admin
        rules["os_compute_api:os-admin-actions:reset_network"] = admin
        rules["os_compute_api:os-admin-actions:inject_network_info"] = admin
        rules["os_compute_api:os-migrate-server:migrate"] = admin
        rules["os_compute_api:os-migrate-server:migrate_live"] = admin
        rules["os_compute_api:os-evacuate"] = admin
        rules["os_compute_api:os-shelve:unshelve_to_host"] = admin
        rules["os_compute_api:os-lock-server:unlock:unlock_override"] = admin
        rules["os_compute_api:os-server-groups:index:all_projects"] = admin
        rules["os_compute_api:limits:other_project"] = admin
        rules["compute:server:topology:host:index"] = admin
        return Policy(rules)
    }()

    /// Nova's `context_is_admin`: the caller counts as an admin for visibility and locks.
    static let contextIsAdmin = "context_is_admin"
}

extension APICall {
    /// Nova's 403 unless `rule` allows the caller on `target` ("Policy doesn't allow … to be performed.",
    /// or `message` where Nova words it otherwise).
    func enforce(_ rule: String, _ target: [String: String] = [:], message: String? = nil) throws {
        guard allowed(rule, target) else { throw APIError.forbidden(message ?? "Policy doesn't allow \(rule) to be performed.") }
    }

    /// Nova's `is_admin` (the `context_is_admin` rule): sees and may touch other projects' things.
    var isComputeAdmin: Bool { allowed(ComputePolicy.contextIsAdmin) }
}
