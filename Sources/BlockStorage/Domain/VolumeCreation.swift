import DriverKit
import Foundation
import MartletCore
import ServiceContracts

/// A volume to make, from the API or from Compute (a server booting from a volume).
struct VolumeRequest: Sendable {
    var projectID: String
    var userID: String
    var isAdmin = false
    var size: Int?
    var name: String?
    var description: String?
    var metadata: [String: String] = [:]
    var zone: String?
    var multiattach = false
    var snapshotID: String?
    var sourceVolumeID: String?
    var imageID: String?
    var typeRef: String?
    /// The generic group it joins (3.13); its type must be one the group takes.
    var groupID: String?
    /// A backup restored into the new volume (`restoring-backup` until its bytes are in).
    var restoring: Backup?
    /// The backend's volume of this name taken over (`managing` until it is).
    var managing: String?
    /// Only for a volume taken over: whether it boots.
    var bootable = false

    /// Admins use any project's sources; others their own project's.
    func canSee(_ owner: String) -> Bool { isAdmin || owner == projectID }
}

extension BlockStorageService {
    /// Cinder's checks of an image a volume of `sizeGB` is to hold (a create, a re-image).
    static func checkFits(_ image: BootImage, sizeGB: Int) throws {
        guard image.status == "active" else { throw BlockStorageFault.invalidInput("Image \(image.id) is not active.") }
        let imageGB = Int(((image.size ?? 0) + (1 << 30) - 1) >> 30)
        guard sizeGB >= imageGB else {
            throw BlockStorageFault.invalidInput("Size of specified image \(imageGB)GB is larger than volume size \(sizeGB)GB.")
        }
        guard sizeGB >= image.minDisk else {
            throw BlockStorageFault.invalidInput("Volume size \(sizeGB)GB cannot be smaller than the image minDisk size \(image.minDisk)GB.")
        }
    }

    /// Checks the request's source, type and quota, records the volume `creating` and leaves the
    /// bytes to the driver; the volume as recorded.
    func create(_ request: VolumeRequest) async throws -> Volume {
        let projectID = request.projectID
        var size = request.size
        let (name, description, metadata, snapshotID, sourceID, imageID, typeRef) =
            (request.name, request.description, request.metadata, request.snapshotID, request.sourceVolumeID, request.imageID, request.typeRef)
        var multiattach = request.multiattach
        if let zone = request.zone, zone != BlockStorageService.zone { throw BlockStorageFault.invalidInput("Availability zone '\(zone)' is invalid.") }
        guard [snapshotID, sourceID, imageID].compactMap({ $0 }).count <= 1 else {
            throw BlockStorageFault.invalidInput("A volume is made from at most one of a snapshot, a source volume and an image.")
        }
        // The source, checked for existence, access and state.
        var source: VolumeSpec.Source = .blank
        var inheritedType: String?
        var imageMetadata: [String: String]?
        var bootable = request.bootable
        if let snapshotID {
            guard let snapshot = try await store.snapshot(snapshotID), request.canSee(snapshot.projectID) else {
                throw BlockStorageFault.snapshotNotFound(snapshotID)
            }
            guard snapshot.status == "available" else {
                throw BlockStorageFault.invalidSnapshot("Originating snapshot status must be one of 'available' values")
            }
            let origin = try await store.volume(snapshot.volumeID)
            inheritedType = origin?.typeID
            bootable = origin?.bootable ?? false
            imageMetadata = origin?.imageMetadata
            size = size ?? snapshot.size
            guard size! >= snapshot.size else {
                throw BlockStorageFault.invalidInput("Volume size '\(size!)'GB cannot be smaller than the snapshot size \(snapshot.size)GB. They must be >= original snapshot size.")
            }
            source = .snapshot(snapshotID)
        } else if let sourceID {
            guard let origin = try await store.volume(sourceID), request.canSee(origin.projectID) else {
                throw BlockStorageFault.volumeNotFound(sourceID)
            }
            guard ["available", "in-use"].contains(origin.status) else {
                throw BlockStorageFault.invalidVolume("Volume \(sourceID) status must be available or in-use, but current status is: \(origin.status).")
            }
            inheritedType = origin.typeID
            bootable = origin.bootable
            imageMetadata = origin.imageMetadata
            size = size ?? origin.size
            guard size! >= origin.size else {
                throw BlockStorageFault.invalidInput("Volume size '\(size!)'GB cannot be smaller than original volume size \(origin.size)GB. They must be >= original volume size.")
            }
            source = .volume(sourceID)
        } else if let imageID {
            guard let image = try await images.bootImage(id: imageID, projectID: projectID, isAdmin: request.isAdmin) else {
                throw BlockStorageFault.imageNotFound(imageID)
            }
            guard let wanted = size else { throw BlockStorageFault.invalidInput("A volume made from an image needs a size.") }
            try Self.checkFits(image, sizeGB: wanted)
            bootable = true
            imageMetadata = VolumeImage.metadata(image)
            source = .image(imageID)
        }
        guard let size else { throw BlockStorageFault.invalidInput("'size' is required for a volume made from nothing.") }

        let now = BlockStorageStore.now()
        let volume = try await store.db.transaction { db -> Volume in
            let type: VolumeType
            if let typeRef {
                guard let found = try await store.type(idOrName: typeRef, in: db),
                      found.isPublic || request.isAdmin || found.projects.contains(projectID)
                else { throw BlockStorageFault.typeNameNotFound(typeRef) }
                type = found
            } else if let inheritedType, let found = try await store.type(inheritedType, in: db) {
                type = found
            } else {
                guard let found = try await store.defaultType(projectID: projectID, in: db) else { throw BlockStorageFault.typeNameNotFound(VolumeType.defaultName) }
                type = found
            }
            try type.refuseEncryption()
            if VolumeType.isMultiattach(type.extraSpecs) { multiattach = true }
            // A type may name the zones it serves (reserved from 3.52); this backend is in one.
            if let zones = type.extraSpecs["RESKEY:availability_zones"]?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
               !zones.contains(BlockStorageService.zone) {
                throw APIError.badRequest("Volume type is only supported in these availability zones: [\(zones.map { "'\($0)'" }.joined(separator: ", "))]")
            }
            if let groupID = request.groupID {
                guard let group: VolumeGroup = try await store.groupDoc(.groups, groupID, in: db), request.canSee(group.projectID) else {
                    throw APIError.notFound("Group \(groupID) could not be found.")
                }
                guard group.volumeTypeIDs.contains(type.id) else {
                    throw BlockStorageFault.invalidInput("Invalid volume type \(type.id) for group \(groupID): the group takes \(group.volumeTypeIDs).")
                }
            }
            try await store.lockProject(projectID, in: db)
            try await quotas.check(projectID: projectID, volumes: 1, gigabytes: size, typeName: type.name, store: store, in: db)
            // With its volume service disabled no backend takes the volume: it ends in error, as Cinder's scheduler leaves it.
            // So does a type whose extra specs ask for what the backend does not offer.
            let schedulable = try await store.services(in: db).contains { $0.binary == "cinder-volume" && !$0.disabled }
                && capabilities.takes(type.extraSpecs, multiattach: multiattach)
            let volume = Volume(id: Identifier.uuid(), projectID: projectID, userID: request.userID, name: name, description: description,
                                size: size, status: !schedulable ? "error" : request.restoring != nil ? "restoring-backup" : request.managing != nil ? "managing" : "creating", availabilityZone: BlockStorageService.zone, typeID: type.id, bootable: bootable,
                                multiattach: multiattach, sourceVolumeID: sourceID, snapshotID: snapshotID, imageMetadata: imageMetadata,
                                metadata: metadata, groupID: request.groupID, createdAt: now)
            var recorded = volume
            recorded.managing = request.managing
            try await store.insert(recorded, in: db)
            return recorded
        }
        if volume.status == "error" { await work.report(.noValidBackend, projectID: projectID, resourceID: volume.id) }
        if let backup = request.restoring {
            if volume.status == "restoring-backup" {
                work.restoreBackup(backup, into: volume, makesVolume: true)
            } else {
                try await store.editBackup(backup.id) { $0.status = "available" }
            }
        } else if let name = request.managing, volume.status == "managing" {
            work.manage(volume.id, from: name)
        } else if volume.status == "creating" {
            work.create(volume, source: source)
        }
        return volume
    }
}
