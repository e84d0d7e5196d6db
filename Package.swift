// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "martlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "martlet", targets: ["Martlet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
    ],
    targets: [
        .executableTarget(
            name: "Martlet",
            dependencies: [
                "MartletCore", "MartletStore", "DriverKit", "ServiceContracts", "Identity", "Image", "Networking", "ObjectStorage", "Compute",
                "BlockStorage", "FileVolumeDriver", "QemuDriver", "LinuxNetwork", "ConsoleProxy", "Dashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "MartletCore",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Driver protocols, their value types and the fakes; real drivers are targets of their own.
        .target(
            name: "DriverKit",
            dependencies: [
                "MartletCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The hypervisor that runs servers as qemu processes of this host.
        .target(
            name: "QemuDriver",
            dependencies: [
                "MartletCore", "DriverKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The data plane from Linux bridges, VXLAN devices and taps.
        .target(
            name: "LinuxNetwork",
            dependencies: [
                "DriverKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The console proxy's listener: the noVNC page and console websockets to the hosts' consoles.
        .target(
            name: "ConsoleProxy",
            dependencies: [
                "DriverKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The web dashboard: pages over the public APIs, which it calls in process through their router.
        .target(
            name: "Dashboard",
            dependencies: [
                "MartletCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The in-process protocols between services, so no service imports another.
        .target(
            name: "ServiceContracts",
            dependencies: [
                "MartletCore", "DriverKit",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "MartletStore",
            dependencies: [
                "MartletCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Identity",
            dependencies: [
                "MartletCore", "MartletStore", "ServiceContracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Image",
            dependencies: [
                "MartletCore", "MartletStore", "ServiceContracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Networking",
            dependencies: [
                "MartletCore", "MartletStore", "ServiceContracts", "DriverKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "ObjectStorage",
            dependencies: [
                "MartletCore", "MartletStore", "ServiceContracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "BlockStorage",
            dependencies: [
                "MartletCore", "MartletStore", "ServiceContracts", "DriverKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The volume driver that keeps volumes as qcow2 files of this host, through qemu-img.
        .target(
            name: "FileVolumeDriver",
            dependencies: ["MartletCore", "DriverKit", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "Compute",
            dependencies: [
                "MartletCore", "MartletStore", "ServiceContracts", "DriverKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "MartletTestSupport",
            dependencies: [
                "MartletStore", "MartletCore", "Identity",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/MartletTestSupport"
        ),
        // One conformance suite per driver protocol, which every driver's tests run against it.
        .target(
            name: "DriverConformance",
            dependencies: ["DriverKit", "MartletCore"],
            path: "Tests/DriverConformance"
        ),
        .testTarget(
            name: "DriverKitTests",
            dependencies: ["DriverKit", "DriverConformance", "MartletCore"]
        ),
        .testTarget(
            name: "QemuDriverTests",
            dependencies: [
                "QemuDriver", "DriverKit", "DriverConformance", "MartletCore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "LinuxNetworkTests",
            dependencies: ["LinuxNetwork", "DriverKit", "DriverConformance"]
        ),
        .testTarget(
            name: "MartletCoreTests",
            dependencies: ["MartletCore"]
        ),
        .testTarget(
            name: "MartletStoreTests",
            dependencies: ["MartletStore", "MartletCore", "MartletTestSupport", .product(name: "SQLKit", package: "sql-kit")]
        ),
        .testTarget(
            name: "ImageTests",
            dependencies: [
                "Image", "Identity", "MartletCore", "MartletStore", "MartletTestSupport", "ServiceContracts",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "BlockStorageTests",
            dependencies: [
                "BlockStorage", "FileVolumeDriver", "Compute", "Image", "Networking", "ObjectStorage", "Identity", "MartletCore", "MartletStore",
                "MartletTestSupport", "DriverKit", "DriverConformance", "ServiceContracts", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "NetworkingTests",
            dependencies: [
                "Networking", "Identity", "MartletCore", "MartletStore", "MartletTestSupport", "DriverKit", "ServiceContracts",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ObjectStorageTests",
            dependencies: [
                "ObjectStorage", "Identity", "MartletCore", "MartletStore", "MartletTestSupport", "ServiceContracts",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ComputeTests",
            dependencies: [
                "Compute", "Image", "Networking", "Identity", "MartletCore", "MartletStore", "MartletTestSupport", "DriverKit",
                "ServiceContracts",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "SecurityTests",
            dependencies: [
                "BlockStorage", "Compute", "Image", "Networking", "ObjectStorage", "Identity", "MartletCore", "MartletStore", "MartletTestSupport",
                "DriverKit", "ServiceContracts",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "IdentityTests",
            dependencies: [
                "Identity", "MartletCore", "MartletStore", "MartletTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
