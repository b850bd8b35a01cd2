// swift-tools-version:6.0
// evtorrent: a BitTorrent client on a libevent reactor. Target map and rules: ../shared/DESIGN.md §1.
import PackageDescription

let package = Package(
    name: "evtorrent",
    products: [
        .executable(name: "evtorrent", targets: ["evtorrent"]),
        .library(name: "TorrentCore", targets: ["TorrentCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C stays in two thin system-library targets (LIBEVENT-NOTES.md §1).
        .systemLibrary(
            name: "CLibevent", pkgConfig: "libevent_core",
            providers: [.apt(["libevent-dev", "pkg-config"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev", "pkg-config"])]),

        // Pure protocol code: no Foundation, no C, no clock, no files.
        .target(name: "TorrentCore"),
        // The only importer of CLibevent and COpenSSL.
        .target(name: "Reactor", dependencies: ["CLibevent", "COpenSSL"]),
        // The engine: glue between TorrentCore and Reactor.
        .target(name: "Client", dependencies: ["TorrentCore", "Reactor"]),
        // The command line.
        .executableTarget(
            name: "evtorrent",
            dependencies: [
                "Client", "TorrentCore", "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "TorrentCoreTests", dependencies: ["TorrentCore", "Reactor"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"]),
        .testTarget(name: "ClientTests", dependencies: ["Client", "TorrentCore", "Reactor"]),
        .testTarget(name: "InteropTests", dependencies: ["Client", "TorrentCore", "Reactor"]),
    ]
)
