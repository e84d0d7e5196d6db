import Synchronization

/// What Block Storage tells Compute about the volumes its servers use, in process: Nova's external
/// events from Cinder.
public protocol ServerVolumeEvents: AnyObject, Sendable {
    /// A volume attached to the server grows to `sizeGB` (Nova's `volume-extended` event): the disk
    /// grows in the running guest, and the server's action log records `extend_volume`.
    func volumeExtended(volumeID: String, serverID: String, sizeGB: Int, requestedBy: Requester) async throws
}

/// Who asked for a change that another service carries out.
public struct Requester: Sendable {
    public var userID: String
    public var projectID: String
    public var requestID: String

    public init(userID: String, projectID: String, requestID: String) {
        (self.userID, self.projectID, self.requestID) = (userID, projectID, requestID)
    }
}

/// Compute, for Block Storage: set once both exist (each is made with the other's contract), held
/// weakly so neither keeps the other alive.
public final class ServerVolumeEventsReference: Sendable {
    private struct Weak: @unchecked Sendable { weak var value: (any ServerVolumeEvents)? }
    private let target = Mutex(Weak())

    public init() {}

    public func set(_ events: any ServerVolumeEvents) { target.withLock { $0 = Weak(value: events) } }
    public var value: (any ServerVolumeEvents)? { target.withLock { $0.value } }
}
