import MartletCore

/// The JSON schemas clients read from `/v2/schemas/*`: they describe exactly what the service accepts.
enum ImageSchemas {
    static let uuidPattern = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

    static let image: JSON = {
        func readOnly(_ type: JSON, _ description: String) -> JSON { ["type": type, "readOnly": true, "description": .string(description)] }
        let properties: [String: JSON] = [
            "id": ["type": "string", "pattern": .string(uuidPattern), "description": "An identifier for the image"],
            "name": ["type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"],
            "status": ["type": "string", "readOnly": true, "description": "Status of the image",
                       "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]],
            "visibility": ["type": "string", "enum": ["community", "public", "private", "shared"], "description": "Scope of image accessibility"],
            "protected": ["type": "boolean", "description": "If true, image will not be deletable."],
            "os_hidden": ["type": "boolean", "description": "If true, image will not appear in default image list response."],
            "checksum": readOnly(["null", "string"], "md5 hash of image contents."),
            "os_hash_algo": readOnly(["null", "string"], "Algorithm to calculate the os_hash_value"),
            "os_hash_value": readOnly(["null", "string"], "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"),
            "owner": ["type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"],
            "size": readOnly(["null", "integer"], "Size of image file in bytes"),
            "virtual_size": readOnly(["null", "integer"], "Virtual size of image in bytes"),
            "container_format": ["type": ["null", "string"], "description": "Format of the container",
                                 "enum": .array([.null] + ImageRecord.containerFormats.sorted().map { .string($0) })],
            "disk_format": ["type": ["null", "string"], "description": "Format of the disk",
                            "enum": .array([.null] + ImageRecord.diskFormats.sorted().map { .string($0) })],
            "created_at": readOnly("string", "Date and time of image registration"),
            "updated_at": readOnly("string", "Date and time of the last image modification"),
            "tags": ["type": "array", "items": ["type": "string", "maxLength": 255], "description": "List of strings related to the image"],
            "min_ram": ["type": "integer", "minimum": 0, "description": "Amount of ram (in MB) required to boot image."],
            "min_disk": ["type": "integer", "minimum": 0, "description": "Amount of disk space (in GB) required to boot image."],
            "self": readOnly("string", "An image self url"),
            "file": readOnly("string", "An image file url"),
            "schema": readOnly("string", "An image schema url"),
            "stores": readOnly("string", "Store in which image data resides."),
        ]
        return [
            "name": "image",
            "properties": .object(properties),
            "additionalProperties": ["type": "string"],
            "links": [["rel": "self", "href": "{self}"], ["rel": "enclosure", "href": "{file}"], ["rel": "describedby", "href": "{schema}"]],
        ]
    }()

    static let images: JSON = [
        "name": "images",
        "properties": [
            "images": ["type": "array", "items": image],
            "schema": ["type": "string"], "first": ["type": "string"], "next": ["type": "string"],
        ],
        "links": [["rel": "first", "href": "{first}"], ["rel": "next", "href": "{next}"], ["rel": "describedby", "href": "{schema}"]],
    ]

    static let member: JSON = [
        "name": "member",
        "properties": [
            "created_at": ["type": "string", "description": "Date and time of image member creation"],
            "image_id": ["type": "string", "pattern": .string(uuidPattern), "description": "An identifier for the image"],
            "member_id": ["type": "string", "description": "An identifier for the image member (tenantId)"],
            "schema": ["type": "string", "readOnly": true],
            "status": ["type": "string", "enum": ["pending", "accepted", "rejected"], "description": "The status of this image member"],
            "updated_at": ["type": "string", "description": "Date and time of last modification of image member"],
        ],
    ]

    static let members: JSON = [
        "name": "members",
        "properties": ["members": ["type": "array", "items": member], "schema": ["type": "string"]],
        "links": [["rel": "describedby", "href": "{schema}"]],
    ]

    /// Schemas of the metadata-definition documents, by the name in `/v2/schemas/metadefs/<name>`.
    static let metadefs: [String: JSON] = {
        let string: JSON = ["type": "string"]
        let stamp: JSON = ["type": "string", "readOnly": true, "format": "date-time"]
        let namespace: JSON = ["name": "namespace", "properties": [
            "namespace": ["type": "string", "maxLength": 80], "display_name": ["type": "string", "maxLength": 80],
            "description": ["type": "string", "maxLength": 500], "visibility": ["type": "string", "enum": ["public", "private"]],
            "protected": ["type": "boolean"], "owner": ["type": "string", "maxLength": 255],
            "resource_type_associations": ["type": "array"], "properties": ["type": "object"], "objects": ["type": "array"],
            "tags": ["type": "array"], "created_at": stamp, "updated_at": stamp, "self": string, "schema": string,
        ], "required": ["namespace"]]
        let association: JSON = ["name": "resource_type_association", "properties": [
            "name": ["type": "string", "maxLength": 80], "prefix": ["type": "string", "maxLength": 80],
            "properties_target": ["type": "string", "maxLength": 80], "created_at": stamp, "updated_at": stamp,
        ], "required": ["name"]]
        let object: JSON = ["name": "object", "properties": [
            "name": ["type": "string", "maxLength": 80], "description": string, "required": ["type": "array"],
            "properties": ["type": "object"], "created_at": stamp, "updated_at": stamp, "self": string, "schema": string,
        ], "required": ["name"]]
        let property: JSON = ["name": "property", "properties": [
            "name": ["type": "string", "maxLength": 80], "title": string, "description": string,
            "type": ["type": "string", "enum": ["array", "boolean", "integer", "number", "object", "string"]],
            "enum": ["type": "array"], "default": [:], "readonly": ["type": "boolean"],
        ], "required": ["type", "title"]]
        let tag: JSON = ["name": "tag", "properties": ["name": ["type": "string", "maxLength": 80], "created_at": stamp, "updated_at": stamp], "required": ["name"]]
        func list(_ name: String, _ key: String, _ item: JSON) -> JSON {
            ["name": .string(name), "properties": [.init(stringLiteral: key): ["type": "array", "items": item], "first": string, "next": string, "schema": string]]
        }
        return [
            "namespace": namespace, "namespaces": list("namespaces", "namespaces", namespace),
            "resource_type": association, "resource_types": list("resource_type_associations", "resource_type_associations", association),
            "object": object, "objects": list("objects", "objects", object),
            "property": property, "properties": ["name": "properties", "properties": ["properties": ["type": "object", "additionalProperties": property]]],
            "tag": tag, "tags": list("tags", "tags", tag),
        ]
    }()
}
