import MartletStore

/// The Image service's tables.
enum ImageSchema {
    static let migrations: [Migration] = [
        Migration("image-0001", [
            """
            CREATE TABLE image_images (
              id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, visibility TEXT NOT NULL, owner TEXT,
              disk_format TEXT, container_format TEXT, size BIGINT, virtual_size BIGINT, checksum TEXT,
              os_hash_algo TEXT, os_hash_value TEXT, min_disk INTEGER NOT NULL, min_ram INTEGER NOT NULL,
              protected BOOLEAN NOT NULL, os_hidden BOOLEAN NOT NULL,
              created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)
            """,
            "CREATE INDEX image_images_owner ON image_images (owner)",
            "CREATE INDEX image_images_visibility ON image_images (visibility, created_at)",
            "CREATE INDEX image_images_created ON image_images (created_at, id)",
            """
            CREATE TABLE image_properties (
              image_id TEXT NOT NULL REFERENCES image_images (id) ON DELETE CASCADE, name TEXT NOT NULL, value TEXT NOT NULL,
              PRIMARY KEY (image_id, name))
            """,
            "CREATE INDEX image_properties_match ON image_properties (name, value)",
            """
            CREATE TABLE image_tags (
              image_id TEXT NOT NULL REFERENCES image_images (id) ON DELETE CASCADE, tag TEXT NOT NULL,
              PRIMARY KEY (image_id, tag))
            """,
            "CREATE INDEX image_tags_tag ON image_tags (tag)",
            """
            CREATE TABLE image_members (
              image_id TEXT NOT NULL REFERENCES image_images (id) ON DELETE CASCADE, member_id TEXT NOT NULL,
              status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
              PRIMARY KEY (image_id, member_id))
            """,
            "CREATE INDEX image_members_member ON image_members (member_id)",
        ]),
        Migration("image-0002", [
            // A metadata-definition namespace is kept whole, with its objects, properties, tags and associations.
            "CREATE TABLE image_metadef_namespaces (namespace TEXT PRIMARY KEY, owner TEXT, body TEXT NOT NULL)",
            // The record of each import, shown by `GET /v2/images/{id}/tasks`.
            """
            CREATE TABLE image_tasks (
              id TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES image_images (id) ON DELETE CASCADE,
              body TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        Migration("image-0003", [
            // Resource types first named by a namespace association (Glance's built-in ones are not stored).
            "CREATE TABLE image_metadef_resource_types (name TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
        ]),
    ]
}
