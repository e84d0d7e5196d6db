import DriverKit
import MartletCore
import ServiceContracts

/// What a volume made from an image keeps of it (`volume_image_metadata`), as Cinder copies it.
enum VolumeImage {
    /// The disk formats a volume is uploaded as (Cinder's list, less ploop).
    static let uploadFormats: Set<String> = ["raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx"]

    /// The image properties an upload carries over from the image the volume was made from (not its core attributes).
    static func carried(_ volume: Volume) -> [String: String] {
        (volume.imageMetadata ?? [:]).filter { !["image_id", "image_name", "checksum", "size", "min_disk", "min_ram", "disk_format",
                                                  "container_format"].contains($0.key) }
    }

    static func metadata(_ image: BootImage) -> [String: String] {
        var out = image.properties
        out["image_id"] = image.id
        out["image_name"] = image.name ?? ""
        out["min_disk"] = String(image.minDisk)
        out["min_ram"] = String(image.minRam)
        if let size = image.size { out["size"] = String(size) }
        if let format = image.diskFormat { out["disk_format"] = format }
        if let format = image.containerFormat { out["container_format"] = format }
        if let checksum = image.checksum { out["checksum"] = checksum }
        return out
    }
}

extension BlockStorageService {
    /// A re-image of `volume` with the image `imageID`, as Cinder decides what it writes: for a
    /// Compute image of a volume-backed server, its root volume's snapshot (no larger than the
    /// volume); for another image its bytes, which must fit. `caller` is whose view of images and
    /// snapshots applies.
    func reimageJob(imageID: String, for volume: Volume, caller: VolumeRequest) async throws -> Volume.Reimaging {
        guard let image = try await images.bootImage(id: imageID, projectID: caller.projectID, isAdmin: caller.isAdmin) else {
            throw APIError.notFound("Image \(imageID) could not be found.")
        }
        let source = try await reimageSource(image, for: volume, caller: caller)
        return Volume.Reimaging(source: source, imageMetadata: VolumeImage.metadata(image), previousStatus: volume.status)
    }

    private func reimageSource(_ image: BootImage, for volume: Volume, caller: VolumeRequest) async throws -> VolumeSpec.Source {
        if let boot = try await VolumeRoutes(service: self).bootSnapshot(of: image.id, caller) {
            if let size = boot.sizeGB, size > volume.size {
                throw APIError.badRequest("Volume size must be greater than the image size. (Image: \(size), Volume: \(volume.size)).")
            }
            return .snapshot(boot.id)
        }
        try Self.checkFits(image, sizeGB: volume.size)
        // An image with no bytes (and no snapshot behind it) would leave the volume blank.
        guard (image.size ?? 0) > 0 else { throw BlockStorageFault.invalidInput("Image \(image.id) has no data.") }
        return .image(image.id)
    }
}
