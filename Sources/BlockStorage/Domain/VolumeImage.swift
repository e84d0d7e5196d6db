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
