import ServiceContracts

/// What a volume made from an image keeps of it (`volume_image_metadata`), as Cinder copies it.
enum VolumeImage {
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
