import DriverKit
import Foundation
import MartletCore
import ServiceContracts

/// Block Storage's events about the volumes of Compute's servers (Nova's `os-server-external-events`
/// from Cinder, in process).
extension ComputeService: ServerVolumeEvents {
    /// Records `extend_volume` on the server (its `compute_extend_volume` event ends with the
    /// outcome) and tells the hypervisor the disk's new size.
    public func volumeExtended(volumeID: String, serverID: String, sizeGB: Int, requestedBy requester: Requester) async throws {
        guard let server = try await servers.get(serverID), (server.volumes ?? []).contains(where: { $0.volumeID == volumeID }) else {
            throw APIError.notFound("Volume \(volumeID) is not attached to instance \(serverID).")
        }
        let action = try await db.transaction { db in
            try await actions.start("extend_volume", server: serverID, requestID: requester.requestID, userID: requester.userID,
                                    projectID: requester.projectID, in: db)
        }
        var failure: String?
        do {
            if let host = server.host { try await hypervisor.extendVolume(serverID, host: host, volumeID: volumeID, bytes: Int64(sizeGB) << 30) }
        } catch {
            failure = "\(error)"
        }
        try await db.transaction { db in try await actions.finish(server: serverID, action: action, host: server.host, error: failure, in: db) }
        if let failure { throw DriverError.failed("server \(serverID) could not grow volume \(volumeID): \(failure)") }
    }
}
