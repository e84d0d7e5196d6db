/// The administrator password Nova gives a new, rebuilt or rescued server (`enable_instance_password`):
/// twelve characters with a digit, an upper- and a lower-case letter, none easily confused (no 0/O, 1/l/I).
enum AdminPassword {
    static let groups = ["23456789", "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz"].map(Array.init)

    static func generate(length: Int = 12) -> String {
        var rng = SystemRandomNumberGenerator()
        var chars = groups.map { $0.randomElement(using: &rng)! }
        let all = groups.flatMap { $0 }
        while chars.count < length { chars.append(all.randomElement(using: &rng)!) }
        chars.shuffle(using: &rng)
        return String(chars)
    }
}
