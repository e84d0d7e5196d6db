import MartletStore

/// Identity's tables. Domains are projects with `is_domain` (as in Keystone), under a root sentinel.
enum IdentitySchema {
    static let migrations: [Migration] = [
        Migration("identity-0001", [
            """
            CREATE TABLE identity_projects (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL, parent_id TEXT,
              is_domain BOOLEAN NOT NULL, description TEXT NOT NULL DEFAULT '', enabled BOOLEAN NOT NULL,
              extra TEXT NOT NULL DEFAULT '{}', UNIQUE (domain_id, name))
            """,
            "CREATE INDEX identity_projects_parent ON identity_projects (parent_id)",
            """
            CREATE TABLE identity_project_tags (
              project_id TEXT NOT NULL REFERENCES identity_projects (id) ON DELETE CASCADE,
              tag TEXT NOT NULL, PRIMARY KEY (project_id, tag))
            """,
            """
            CREATE TABLE identity_users (
              id TEXT PRIMARY KEY, domain_id TEXT NOT NULL, name TEXT NOT NULL, enabled BOOLEAN NOT NULL,
              default_project_id TEXT, password_hash TEXT, password_changed_at DOUBLE PRECISION,
              extra TEXT NOT NULL DEFAULT '{}', created_at DOUBLE PRECISION NOT NULL, UNIQUE (domain_id, name))
            """,
            """
            CREATE TABLE identity_groups (
              id TEXT PRIMARY KEY, domain_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
              extra TEXT NOT NULL DEFAULT '{}', UNIQUE (domain_id, name))
            """,
            """
            CREATE TABLE identity_group_members (
              group_id TEXT NOT NULL REFERENCES identity_groups (id) ON DELETE CASCADE,
              user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE, PRIMARY KEY (group_id, user_id))
            """,
            "CREATE INDEX identity_group_members_user ON identity_group_members (user_id)",
            """
            CREATE TABLE identity_roles (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL DEFAULT '',
              description TEXT NOT NULL DEFAULT '', extra TEXT NOT NULL DEFAULT '{}', UNIQUE (name, domain_id))
            """,
            """
            CREATE TABLE identity_implied_roles (
              prior_role_id TEXT NOT NULL REFERENCES identity_roles (id) ON DELETE CASCADE,
              implied_role_id TEXT NOT NULL REFERENCES identity_roles (id) ON DELETE CASCADE,
              PRIMARY KEY (prior_role_id, implied_role_id))
            """,
            """
            CREATE TABLE identity_assignments (
              actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL,
              role_id TEXT NOT NULL REFERENCES identity_roles (id) ON DELETE CASCADE, inherited BOOLEAN NOT NULL,
              PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited))
            """,
            "CREATE INDEX identity_assignments_target ON identity_assignments (target_type, target_id)",
            "CREATE INDEX identity_assignments_actor ON identity_assignments (actor_id)",
            """
            CREATE TABLE identity_revocations (
              id TEXT PRIMARY KEY, audit_id TEXT, user_id TEXT, project_id TEXT,
              issued_before DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX identity_revocations_audit ON identity_revocations (audit_id)",
            "CREATE INDEX identity_revocations_user ON identity_revocations (user_id)",
            "CREATE INDEX identity_revocations_project ON identity_revocations (project_id)",
        ]),
        Migration("identity-0002", [
            """
            CREATE TABLE identity_regions (
              id TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', parent_region_id TEXT,
              extra TEXT NOT NULL DEFAULT '{}')
            """,
            """
            CREATE TABLE identity_services (
              id TEXT PRIMARY KEY, type TEXT NOT NULL, enabled BOOLEAN NOT NULL, extra TEXT NOT NULL DEFAULT '{}')
            """,
            """
            CREATE TABLE identity_endpoints (
              id TEXT PRIMARY KEY, service_id TEXT NOT NULL REFERENCES identity_services (id) ON DELETE CASCADE,
              interface TEXT NOT NULL, region_id TEXT, url TEXT NOT NULL, enabled BOOLEAN NOT NULL,
              extra TEXT NOT NULL DEFAULT '{}')
            """,
            """
            CREATE TABLE identity_app_credentials (
              id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
              project_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT, secret_hash TEXT NOT NULL,
              expires_at DOUBLE PRECISION, unrestricted BOOLEAN NOT NULL, roles TEXT NOT NULL,
              created_at DOUBLE PRECISION NOT NULL, UNIQUE (user_id, name))
            """,
            """
            CREATE TABLE identity_credentials (
              id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
              project_id TEXT, type TEXT NOT NULL, blob TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}')
            """,
            "CREATE INDEX identity_credentials_user ON identity_credentials (user_id)",
            """
            CREATE TABLE identity_policies (
              id TEXT PRIMARY KEY, type TEXT NOT NULL, blob TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}')
            """,
        ]),
        Migration("identity-0003", [
            // Small resources that are stored and served whole: endpoint groups, OAuth consumers, domain configs.
            """
            CREATE TABLE identity_documents (
              kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))
            """,
        ]),
        Migration("identity-0004", [
            // Unified limits. A registered limit is unique per service, region (none counts as one) and
            // resource; a limit overrides one for a project or a domain, and goes with them.
            """
            CREATE TABLE identity_registered_limits (
              id TEXT PRIMARY KEY, service_id TEXT NOT NULL REFERENCES identity_services (id) ON DELETE CASCADE,
              region_id TEXT REFERENCES identity_regions (id) ON DELETE CASCADE, resource_name TEXT NOT NULL,
              default_limit BIGINT NOT NULL, description TEXT)
            """,
            "CREATE UNIQUE INDEX identity_registered_limits_key ON identity_registered_limits (service_id, COALESCE(region_id, ''), resource_name)",
            """
            CREATE TABLE identity_limits (
              id TEXT PRIMARY KEY,
              registered_limit_id TEXT NOT NULL REFERENCES identity_registered_limits (id) ON DELETE CASCADE,
              project_id TEXT REFERENCES identity_projects (id) ON DELETE CASCADE,
              domain_id TEXT REFERENCES identity_projects (id) ON DELETE CASCADE,
              resource_limit BIGINT NOT NULL, description TEXT)
            """,
            "CREATE UNIQUE INDEX identity_limits_key ON identity_limits (registered_limit_id, COALESCE(project_id, ''), COALESCE(domain_id, ''))",
            // OS-EP-FILTER: endpoints and endpoint groups (documents) associated with projects.
            """
            CREATE TABLE identity_project_endpoints (
              project_id TEXT NOT NULL REFERENCES identity_projects (id) ON DELETE CASCADE,
              endpoint_id TEXT NOT NULL REFERENCES identity_endpoints (id) ON DELETE CASCADE,
              PRIMARY KEY (project_id, endpoint_id))
            """,
            "CREATE INDEX identity_project_endpoints_endpoint ON identity_project_endpoints (endpoint_id)",
            """
            CREATE TABLE identity_project_endpoint_groups (
              endpoint_group_id TEXT NOT NULL,
              project_id TEXT NOT NULL REFERENCES identity_projects (id) ON DELETE CASCADE,
              PRIMARY KEY (endpoint_group_id, project_id))
            """,
            "CREATE INDEX identity_project_endpoint_groups_project ON identity_project_endpoint_groups (project_id)",
            // Application credential access rules: a user's rules, shared by that user's credentials.
            """
            CREATE TABLE identity_access_rules (
              id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
              service TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, UNIQUE (user_id, service, method, path))
            """,
            """
            CREATE TABLE identity_app_credential_access_rules (
              app_credential_id TEXT NOT NULL REFERENCES identity_app_credentials (id) ON DELETE CASCADE,
              access_rule_id TEXT NOT NULL REFERENCES identity_access_rules (id) ON DELETE CASCADE,
              PRIMARY KEY (app_credential_id, access_rule_id))
            """,
            "CREATE INDEX identity_app_credential_access_rules_rule ON identity_app_credential_access_rules (access_rule_id)",
            // A copy of the credential's rules (JSON; NULL for none) on its own row, so validating
            // its tokens reads no more than before. Rules never change and cannot go while used.
            "ALTER TABLE identity_app_credentials ADD COLUMN access_rules TEXT",
        ]),
        Migration("identity-0005", [
            // OS-TRUST. The delegated role IDs are a JSON array on the row, so validating a
            // trust-scoped token reads one row. Keystone's duplicate_trust_constraint, NULLs distinct.
            """
            CREATE TABLE identity_trusts (
              id TEXT PRIMARY KEY, trustor_user_id TEXT NOT NULL, trustee_user_id TEXT NOT NULL, project_id TEXT,
              impersonation BOOLEAN NOT NULL, expires_at DOUBLE PRECISION, remaining_uses BIGINT,
              redelegated_trust_id TEXT, redelegation_count BIGINT NOT NULL, roles TEXT NOT NULL,
              extra TEXT NOT NULL DEFAULT '{}', created_at DOUBLE PRECISION NOT NULL,
              UNIQUE (trustor_user_id, trustee_user_id, project_id, impersonation, expires_at))
            """,
            "CREATE INDEX identity_trusts_trustee ON identity_trusts (trustee_user_id)",
            "CREATE INDEX identity_trusts_project ON identity_trusts (project_id)",
            "CREATE INDEX identity_trusts_redelegated ON identity_trusts (redelegated_trust_id)",
        ]),
    ]
}
