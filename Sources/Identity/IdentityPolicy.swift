import MartletCore

/// Identity's policy table: the secure-RBAC defaults. `admin` implies `member` implies `reader`,
/// so a rule naming `reader` admits all three. Admins (any scope) and system readers manage and
/// read identity; every user reads itself, changes its own password and owns its credentials.
enum IdentityPolicy {
    static let admin = PolicyRule.role("admin")
    static let systemReader = PolicyRule.systemRole("reader")
    static let reader = admin || systemReader
    static let selfUser = PolicyRule.isUser("user_id")
    /// Set by handlers that load the resource: the user who owns it.
    static let owner = PolicyRule.isUser("owner_id")
    static let tokenProject = PolicyRule.isTokenProject("project_id")
    /// The caller's token is scoped to this domain or to a project in it.
    static let tokenDomain = PolicyRule { req in
        guard let id = req.target["domain_id"] else { return false }
        switch req.auth.scope {
        case .domain(let d, _): return d == id
        case .project(_, _, let d, _): return d == id
        default: return false
        }
    }
    static let authenticated = PolicyRule.anyone
    /// The caller's token is scoped to the limit's project, or to its domain (`project_id`, `domain_id`
    /// of the limit, the domain being its project's for a project limit).
    static let limitScope = PolicyRule { req in
        switch req.auth.scope {
        case .project(let id, _, _, _): return req.target["project_id"] == id
        case .domain(let id, _): return req.target["domain_id"] == id
        default: return false
        }
    }

    /// OS-TRUST: the trust a handler loaded (or is creating) names its trustor and trustee. A token of
    /// an impersonating trust is its trustor's, as in Keystone (so the trustee redelegates as the trustor).
    static let trustor = PolicyRule.isUser("trustor_user_id")
    static let trustee = PolicyRule.isUser("trustee_user_id")
    static let listTrustsForTrustor = reader || trustor
    static let listTrustsForTrustee = reader || trustee
    /// `GET /v3/OS-TRUST/trusts` is checked as list_trusts_for_trustor or list_trusts_for_trustee when
    /// filtered by one of them (the handler puts the filter in the target), list_trusts otherwise.
    static let listTrusts = PolicyRule { req in
        if req.target["trustor_user_id"] != nil { return listTrustsForTrustor.allows(req) }
        if req.target["trustee_user_id"] != nil { return listTrustsForTrustee.allows(req) }
        return reader.allows(req)
    }

    static let table = Policy([
        "identity:validate_token": reader || owner || .role("service"),
        "identity:revoke_token": admin || owner,
        "identity:get_auth_catalog": authenticated,
        "identity:get_auth_projects": authenticated,
        "identity:get_auth_domains": authenticated,
        "identity:get_auth_system": authenticated,

        "identity:list_domains": reader,
        "identity:get_domain": reader || tokenDomain,
        "identity:create_domain": admin,
        "identity:update_domain": admin,
        "identity:delete_domain": admin,

        "identity:list_projects": reader,
        "identity:get_project": reader || tokenProject,
        "identity:create_project": admin,
        "identity:update_project": admin,
        "identity:delete_project": admin,
        "identity:list_project_tags": reader || tokenProject,
        "identity:get_project_tag": reader || tokenProject,
        "identity:update_project_tags": admin,
        "identity:create_project_tag": admin,
        "identity:delete_project_tags": admin,
        "identity:delete_project_tag": admin,

        "identity:list_users": reader,
        "identity:get_user": reader || selfUser,
        "identity:create_user": admin,
        "identity:update_user": admin,
        "identity:delete_user": admin,
        "identity:change_password": admin || selfUser,
        "identity:list_projects_for_user": reader || selfUser,
        "identity:list_groups_for_user": reader || selfUser,

        "identity:list_groups": reader,
        "identity:get_group": reader,
        "identity:create_group": admin,
        "identity:update_group": admin,
        "identity:delete_group": admin,
        "identity:list_users_in_group": reader,
        "identity:check_user_in_group": reader,
        "identity:add_user_to_group": admin,
        "identity:remove_user_from_group": admin,

        "identity:list_roles": reader,
        "identity:get_role": reader,
        "identity:create_role": admin,
        "identity:update_role": admin,
        "identity:delete_role": admin,
        "identity:list_implied_roles": reader,
        "identity:get_implied_role": reader,
        "identity:create_implied_role": admin,
        "identity:delete_implied_role": admin,
        "identity:list_role_inference_rules": reader,

        "identity:list_grants": reader,
        "identity:check_grant": reader,
        "identity:create_grant": admin,
        "identity:revoke_grant": admin,
        "identity:list_system_grants": reader,
        "identity:check_system_grant": reader,
        "identity:create_system_grant": admin,
        "identity:revoke_system_grant": admin,
        "identity:list_role_assignments": reader,
        "identity:list_role_assignments_for_tree": reader || (admin && tokenProject),

        "identity:create_trust": trustor,
        "identity:list_trusts": listTrusts,
        "identity:list_trusts_for_trustor": listTrustsForTrustor,
        "identity:list_trusts_for_trustee": listTrustsForTrustee,
        "identity:get_trust": reader || trustor || trustee,
        "identity:list_roles_for_trust": reader || trustor || trustee,
        "identity:get_role_for_trust": reader || trustor || trustee,
        "identity:delete_trust": admin || trustor,

        "identity:list_application_credentials": reader || selfUser,
        "identity:get_application_credential": reader || selfUser,
        "identity:create_application_credential": selfUser,
        "identity:delete_application_credential": admin || selfUser,
        "identity:list_access_rules": reader || selfUser,
        "identity:get_access_rule": reader || selfUser,
        "identity:delete_access_rule": admin || selfUser,

        "identity:list_credentials": authenticated,
        "identity:get_credential": reader || owner,
        "identity:create_credential": admin || owner,
        "identity:update_credential": admin || owner,
        "identity:delete_credential": admin || owner,
        "identity:ec2_list_credentials": reader || selfUser,
        "identity:ec2_get_credential": reader || selfUser,
        "identity:ec2_create_credential": admin || selfUser,
        "identity:ec2_delete_credential": admin || selfUser,
        // Not Keystone's name: who may give a user an EC2 credential for a project the user has no role on
        // (such a credential authenticates nothing until the user gets one).
        "identity:credential_for_any_project": admin,

        "identity:list_regions": authenticated,
        "identity:get_region": authenticated,
        "identity:create_region": admin,
        "identity:update_region": admin,
        "identity:delete_region": admin,
        "identity:list_services": reader,
        "identity:get_service": reader,
        "identity:create_service": admin,
        "identity:update_service": admin,
        "identity:delete_service": admin,
        "identity:list_endpoints": reader,
        "identity:get_endpoint": reader,
        "identity:create_endpoint": admin,
        "identity:update_endpoint": admin,
        "identity:delete_endpoint": admin,
        "identity:list_endpoint_groups": reader,
        "identity:get_endpoint_group": reader,
        "identity:create_endpoint_group": admin,
        "identity:update_endpoint_group": admin,
        "identity:delete_endpoint_group": admin,
        "identity:list_endpoints_associated_with_endpoint_group": reader,
        "identity:list_projects_associated_with_endpoint_group": reader,
        "identity:get_endpoint_group_in_project": reader,
        "identity:list_endpoint_groups_for_project": reader,
        "identity:add_endpoint_group_to_project": admin,
        "identity:remove_endpoint_group_from_project": admin,
        "identity:list_projects_for_endpoint": reader,
        "identity:add_endpoint_to_project": admin,
        "identity:check_endpoint_in_project": reader,
        "identity:list_endpoints_for_project": reader,
        "identity:remove_endpoint_from_project": admin,
        // Unified limits: anyone reads registered limits and lists limits (the list shows a caller
        // only its own scope's); admins write.
        "identity:get_limit_model": authenticated,
        "identity:list_registered_limits": authenticated,
        "identity:get_registered_limit": authenticated,
        "identity:create_registered_limits": admin,
        "identity:update_registered_limit": admin,
        "identity:delete_registered_limit": admin,
        "identity:list_limits": authenticated,
        "identity:get_limit": reader || limitScope,
        "identity:create_limits": admin,
        "identity:update_limit": admin,
        "identity:delete_limit": admin,
        "identity:list_consumers": reader,
        "identity:get_consumer": reader,
        "identity:create_consumer": admin,
        "identity:update_consumer": admin,
        "identity:delete_consumer": admin,
        "identity:get_domain_config_default": reader,
        "identity:get_domain_config": reader,
        "identity:create_domain_config": admin,
        "identity:update_domain_config": admin,
        "identity:delete_domain_config": admin,
        "identity:list_policies": reader,
        "identity:get_policy": reader,
        "identity:create_policy": admin,
        "identity:update_policy": admin,
        "identity:delete_policy": admin,
    ])
}
