import MartletStore

/// The Compute tables. Servers are whole JSON documents (`doc`) with the attributes that filters,
/// quotas and the scheduler read copied into indexed columns.
enum ComputeSchema {
    static let migrations: [Migration] = [
        Migration("compute-0001", [
            """
            CREATE TABLE cmp_flavors (
                id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, memory_mb INTEGER NOT NULL, vcpus INTEGER NOT NULL,
                root_gb INTEGER NOT NULL, ephemeral_gb INTEGER NOT NULL, swap INTEGER NOT NULL, rxtx_factor REAL NOT NULL,
                is_public INTEGER NOT NULL, disabled INTEGER NOT NULL, description TEXT, extra_specs TEXT NOT NULL,
                created_at REAL NOT NULL, updated_at REAL)
            """,
            "CREATE TABLE cmp_flavor_access (flavor_id TEXT NOT NULL REFERENCES cmp_flavors(id) ON DELETE CASCADE, project_id TEXT NOT NULL, PRIMARY KEY (flavor_id, project_id))",
            """
            CREATE TABLE cmp_keypairs (
                user_id TEXT NOT NULL, name TEXT NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL, public_key TEXT NOT NULL,
                fingerprint TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (user_id, name))
            """,
            """
            CREATE TABLE cmp_servers (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL,
                vm_state TEXT NOT NULL, task_state TEXT, host TEXT, vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL,
                created_at REAL NOT NULL, updated_at REAL NOT NULL, doc TEXT NOT NULL)
            """,
            "CREATE INDEX cmp_servers_project ON cmp_servers (project_id, created_at)",
            "CREATE INDEX cmp_servers_created ON cmp_servers (created_at, id)",
            "CREATE INDEX cmp_servers_host ON cmp_servers (host)",
            "CREATE INDEX cmp_servers_task ON cmp_servers (task_state)",
            """
            CREATE TABLE cmp_instance_actions (
                id TEXT PRIMARY KEY, server_id TEXT NOT NULL, request_id TEXT NOT NULL, action TEXT NOT NULL,
                project_id TEXT NOT NULL, user_id TEXT NOT NULL, start_time REAL NOT NULL, updated_at REAL NOT NULL,
                message TEXT, events TEXT NOT NULL)
            """,
            "CREATE INDEX cmp_instance_actions_server ON cmp_instance_actions (server_id, start_time)",
            """
            CREATE TABLE cmp_server_groups (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL,
                policy TEXT NOT NULL, rules TEXT NOT NULL, created_at REAL NOT NULL)
            """,
            """
            CREATE TABLE cmp_server_group_members (
                group_id TEXT NOT NULL REFERENCES cmp_server_groups(id) ON DELETE CASCADE, server_id TEXT NOT NULL,
                PRIMARY KEY (group_id, server_id))
            """,
            "CREATE INDEX cmp_server_group_members_server ON cmp_server_group_members (server_id)",
            """
            CREATE TABLE cmp_providers (
                host TEXT PRIMARY KEY, uuid TEXT NOT NULL, vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL,
                disk_gb INTEGER NOT NULL, cpu_ratio REAL NOT NULL, ram_ratio REAL NOT NULL, disk_ratio REAL NOT NULL,
                disabled INTEGER NOT NULL, disabled_reason TEXT, forced_down INTEGER NOT NULL, hypervisor_id INTEGER NOT NULL,
                updated_at REAL NOT NULL)
            """,
            """
            CREATE TABLE cmp_allocations (
                consumer_id TEXT NOT NULL, host TEXT NOT NULL, vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL,
                disk_gb INTEGER NOT NULL, PRIMARY KEY (consumer_id, host))
            """,
            "CREATE INDEX cmp_allocations_host ON cmp_allocations (host)",
            "CREATE TABLE cmp_quotas (project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit INTEGER NOT NULL, PRIMARY KEY (project_id, resource))",
            """
            CREATE TABLE cmp_aggregates (
                id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, name TEXT NOT NULL, metadata TEXT NOT NULL, hosts TEXT NOT NULL,
                created_at REAL NOT NULL, updated_at REAL)
            """,
            """
            CREATE TABLE cmp_migrations (
                id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, server_id TEXT NOT NULL, project_id TEXT NOT NULL, user_id TEXT NOT NULL,
                kind TEXT NOT NULL, status TEXT NOT NULL, source_host TEXT, dest_host TEXT, old_flavor TEXT, new_flavor TEXT,
                created_at REAL NOT NULL, updated_at REAL NOT NULL)
            """,
            "CREATE INDEX cmp_migrations_server ON cmp_migrations (server_id)",
        ]),
    ]
}
