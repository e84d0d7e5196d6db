import Foundation

/// A message for the project about something that failed after its request was accepted
/// (Cinder's user messages, 3.3): which resource, what was being done, why it failed.
struct UserMessage: Codable, Sendable, Equatable {
    var id: String
    var projectID: String
    var requestID: String?
    var resourceType: String
    var resourceID: String?
    var eventID: String
    var level = "ERROR"
    var text: String
    var createdAt: Double
    /// Kept at least this long (Cinder's `message_ttl`, 30 days).
    var guaranteedUntil: Double

    static let lifetime: Double = 30 * 24 * 3600

    /// The events Martlet reports, with Cinder's IDs and wording.
    enum Event {
        case noValidBackend, volumeCreateFailed, backupFailed, restoreFailed, extendFailed

        var id: String {
            switch self {
            case .noValidBackend: "VOLUME_VOLUME_001_002"
            case .volumeCreateFailed: "VOLUME_VOLUME_001_003"
            case .backupFailed: "VOLUME_BACKUP_001_005"
            case .restoreFailed: "VOLUME_BACKUP_007_005"
            case .extendFailed: "VOLUME_VOLUME_011_003"
            }
        }

        var text: String {
            switch self {
            case .noValidBackend: "schedule allocate volume: Could not find any available weighted backend."
            case .volumeCreateFailed: "schedule allocate volume: The volume driver could not create the volume."
            case .backupFailed: "backup create: The backup could not be written to the object store."
            case .restoreFailed: "restore backup: The backup could not be restored into the volume."
            case .extendFailed: "extend volume: The volume driver could not extend the volume."
            }
        }

        var resourceType: String { [.backupFailed].contains(self) ? "VOLUME_BACKUP" : "VOLUME" }
    }
}
