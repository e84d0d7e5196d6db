import MartletStore

enum BlockStorageSchema {
    static let migrations: [Migration] = [
        Migration("block-storage-0001", [
            """
            CREATE TABLE blk_volumes (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL)
            """,
            "CREATE INDEX blk_volumes_project ON blk_volumes (project_id, created_at)",
            "CREATE INDEX blk_volumes_status ON blk_volumes (status)",
            """
            CREATE TABLE blk_snapshots (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, volume_id TEXT NOT NULL, status TEXT NOT NULL,
                created_at REAL NOT NULL, doc TEXT NOT NULL)
            """,
            "CREATE INDEX blk_snapshots_project ON blk_snapshots (project_id, created_at)",
            "CREATE INDEX blk_snapshots_volume ON blk_snapshots (volume_id)",
            "CREATE TABLE blk_types (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)",
            """
            CREATE TABLE blk_quotas (
                project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit INTEGER NOT NULL, PRIMARY KEY (project_id, resource))
            """,
            // One row per project, locked while a create counts the project's use (exact quotas on PostgreSQL).
            "CREATE TABLE blk_project_locks (project_id TEXT PRIMARY KEY)",
            "CREATE TABLE blk_qos_specs (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)",
            """
            CREATE TABLE blk_transfers (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, volume_id TEXT NOT NULL UNIQUE, created_at REAL NOT NULL, doc TEXT NOT NULL)
            """,
            // An admin's enable/disable of the scheduler and volume services.
            "CREATE TABLE blk_services (binary_name TEXT NOT NULL, host TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (binary_name, host))",
        ]),
        Migration("block-storage-0002", [
            """
            CREATE TABLE blk_backups (
                id TEXT PRIMARY KEY, project_id TEXT NOT NULL, volume_id TEXT NOT NULL, parent_id TEXT, status TEXT NOT NULL,
                created_at REAL NOT NULL, doc TEXT NOT NULL)
            """,
            "CREATE INDEX blk_backups_project ON blk_backups (project_id, created_at)",
            "CREATE INDEX blk_backups_parent ON blk_backups (parent_id)",
            "CREATE INDEX blk_backups_status ON blk_backups (status)",
            "CREATE TABLE blk_messages (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL)",
            "CREATE INDEX blk_messages_project ON blk_messages (project_id, created_at)",
        ]),
        // Generic groups (3.11–3.14): types, groups, group snapshots; members name their group in their own document.
        Migration("block-storage-0003", [
            "CREATE TABLE blk_group_types (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL)",
            "CREATE TABLE blk_groups (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL)",
            "CREATE INDEX blk_groups_project ON blk_groups (project_id, created_at)",
            "CREATE TABLE blk_group_snapshots (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL)",
            "CREATE INDEX blk_group_snapshots_project ON blk_group_snapshots (project_id, created_at)",
        ]),
        // Each project's own default volume type (3.62).
        Migration("block-storage-0004", [
            "CREATE TABLE blk_default_types (project_id TEXT PRIMARY KEY, volume_type_id TEXT NOT NULL)",
            "CREATE INDEX blk_default_types_type ON blk_default_types (volume_type_id)",
        ]),
    ]
}
