import MartletCore

/// The failures Block Storage names, worded as Cinder words them.
enum BlockStorageFault {
    static func volumeNotFound(_ id: String) -> APIError { .notFound("Volume \(id) could not be found.") }
    static func snapshotNotFound(_ id: String) -> APIError { .notFound("Snapshot \(id) could not be found.") }
    static func typeNotFound(_ id: String) -> APIError { .notFound("Volume type \(id) could not be found.") }
    static func typeNameNotFound(_ name: String) -> APIError { .notFound("Volume type with name \(name) could not be found.") }
    /// Cinder answers 400 for an image it cannot see, not 404.
    static func imageNotFound(_ id: String) -> APIError { .badRequest("Invalid image identifier or unable to access requested image.") }
    static func invalidVolume(_ reason: String) -> APIError { .badRequest("Invalid volume: \(reason)") }
    static func invalidSnapshot(_ reason: String) -> APIError { .badRequest("Invalid snapshot: \(reason)") }
    static func invalidInput(_ reason: String) -> APIError { .badRequest("Invalid input received: \(reason)") }
    static func backupNotFound(_ id: String) -> APIError { .notFound("Backup \(id) could not be found.") }
    static func invalidBackup(_ reason: String) -> APIError { .badRequest("Invalid backup: \(reason)") }
    static func markerNotFound(_ marker: String) -> APIError { .notFound("Marker \(marker) could not be found.") }
}
