import Foundation

/// The content type of an object sent without one, guessed from its name's extension as Swift
/// does (clients such as `swift upload` leave the header out).
enum ContentTypes {
    static let fallback = "application/octet-stream"

    static let byExtension: [String: String] = [
        "txt": "text/plain", "text": "text/plain", "log": "text/plain", "conf": "text/plain", "md": "text/markdown",
        "html": "text/html", "htm": "text/html", "css": "text/css", "csv": "text/csv", "xml": "application/xml",
        "js": "text/javascript", "mjs": "text/javascript", "json": "application/json", "yaml": "application/yaml", "yml": "application/yaml",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "webp": "image/webp", "ico": "image/vnd.microsoft.icon", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
        "pdf": "application/pdf", "zip": "application/zip", "tar": "application/x-tar", "gz": "application/gzip",
        "tgz": "application/gzip", "bz2": "application/x-bzip2", "xz": "application/x-xz", "7z": "application/x-7z-compressed",
        "iso": "application/x-iso9660-image", "wasm": "application/wasm", "sh": "application/x-sh",
        "mp3": "audio/mpeg", "wav": "audio/x-wav", "ogg": "audio/ogg", "mp4": "video/mp4", "webm": "video/webm",
        "mov": "video/quicktime", "avi": "video/x-msvideo", "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf",
    ]

    /// The request's `Content-Type` unless absent, empty or `X-Detect-Content-Type: true`; else a guess.
    static func resolve(_ header: String?, detect: Bool, name: String) -> String {
        if let header, !header.isEmpty, !detect { return header }
        guard let dot = name.lastIndex(of: "."), !name[dot...].contains("/") else { return fallback }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? fallback
    }
}
