import MartletStore

/// The object store's catalogue: accounts, containers and objects. Names compare byte by byte,
/// so the primary keys serve every listing (prefix, markers, delimiter, reverse) in UTF-8 order.
/// Object bytes live in files named by generated IDs (`BlobStore`), listed in `files`; a
/// symlink names its target (`account/container/object`) in `symlink`. `listing` is the object's
/// entry in a JSON container listing, rendered when the row is written: the hot path of a
/// 10,000-object page then reads two columns per row and formats nothing.
enum ObjectSchema {
    static let migrations: [Migration] = [
        Migration("object-0001", [
            "CREATE TABLE obj_accounts (account BYTEWISE_TEXT PRIMARY KEY, created BIGINT NOT NULL, meta TEXT NOT NULL)",
            """
            CREATE TABLE obj_containers (account BYTEWISE_TEXT NOT NULL, name BYTEWISE_TEXT NOT NULL, created BIGINT NOT NULL,
              modified BIGINT NOT NULL, meta TEXT NOT NULL, object_count BIGINT NOT NULL, bytes_used BIGINT NOT NULL,
              PRIMARY KEY (account, name))
            """,
            """
            CREATE TABLE obj_objects (account BYTEWISE_TEXT NOT NULL, container BYTEWISE_TEXT NOT NULL, name BYTEWISE_TEXT NOT NULL,
              size BIGINT NOT NULL, etag TEXT NOT NULL, content_type TEXT NOT NULL, modified BIGINT NOT NULL,
              delete_at BIGINT, files TEXT, manifest TEXT, symlink TEXT, meta TEXT NOT NULL, listing TEXT NOT NULL,
              PRIMARY KEY (account, container, name)) SQLITE_WITHOUT_ROWID
            """,
            "CREATE INDEX obj_objects_delete_at ON obj_objects (delete_at) WHERE delete_at IS NOT NULL",
            """
            CREATE TABLE obj_uploads (upload_id TEXT PRIMARY KEY, account BYTEWISE_TEXT NOT NULL, container BYTEWISE_TEXT NOT NULL,
              name BYTEWISE_TEXT NOT NULL, created BIGINT NOT NULL, content_type TEXT NOT NULL, meta TEXT NOT NULL)
            """,
            "CREATE INDEX obj_uploads_bucket ON obj_uploads (account, container, name)",
            """
            CREATE TABLE obj_parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size BIGINT NOT NULL,
              etag TEXT NOT NULL, file TEXT NOT NULL, modified BIGINT NOT NULL, PRIMARY KEY (upload_id, part_number))
            """,
        ]),
    ]
}
