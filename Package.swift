// swift-tools-version:6.0
// evtorrent: a BitTorrent client on a libevent reactor. Target map and rules: ../shared/DESIGN.md §1.
import PackageDescription

/// Each function of our targets in a section of its own, so the link can put the ones a daemon
/// runs together (`staticSwift` below).
let functionSections: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-function-sections"], .when(configuration: .release))]
/// Release builds leave out the runtime's exclusivity checks on class properties and globals (the
/// compile-time checks stay, and debug builds, which the tests run, keep the runtime ones): they
/// were a fifth of the instructions a seeder spends per block served (Benchmarks/RESULTS.md).
let hotPath: [SwiftSetting] = functionSections + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

/// Release builds of the command link the Swift runtime and libraries into it: the loader then
/// relocates only what the binary uses, which takes 2.8 MB off a daemon's memory and a millisecond
/// off its start (Benchmarks/RESULTS.md, "Daemon memory and start-up … (session 13)"). The two
/// libraries named are what FoundationEssentials (pulled in by dependencies) needs when static;
/// `swift build --static-swift-stdlib` adds them by itself.
///
/// It is linked by lld, for three things the default linker (gold) lacks or does not do by itself,
/// each measured in Benchmarks/RESULTS.md ("The binary's own pages … (session 14)"):
/// - relative relocations packed (DT_RELR, glibc 2.36 and later): 1.1 MB of relocation entries
///   the loader read at every start become 10 KB; the binary stays position-independent;
/// - no symbol table for the dynamic loader (the driver exports every symbol by default, 0.5 MB
///   of it read at start, for nothing: the command loads no plug-ins);
/// - functions in the order `Sources/evtorrent/function-order.txt` gives (the ones a daemon runs
///   at start, over RPC and serving peers, hottest first; `scripts/function-order` remakes it):
///   they share pages, and a daemon maps 2 MB less of the binary. A name not found is skipped.
let staticSwift: [LinkerSetting] = [
    .unsafeFlags(
        [
            "-static-stdlib", "-l_FoundationCShims", "-l_FoundationCollections", "-use-ld=lld",
            "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
            "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/evtorrent/function-order.txt",
            "-Xlinker", "--no-warn-symbol-ordering",
        ], .when(configuration: .release))
]

let package = Package(
    name: "evtorrent",
    products: [
        .executable(name: "evtorrent", targets: ["evtorrent"]),
        .library(name: "TorrentCore", targets: ["TorrentCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // /metrics: Prometheus' text format, counters, gauges and histograms.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // gzip for RPC replies (zlib underneath), as transmission-daemon sends them when asked.
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
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
        .target(name: "TorrentCore", exclude: ["README.md"], swiftSettings: hotPath),
        // The only importer of CLibevent and COpenSSL.
        .target(name: "Reactor", dependencies: ["CLibevent", "COpenSSL"], exclude: ["README.md"], swiftSettings: hotPath),
        // Virtual time and fake connections, so Client's handlers are tested without sockets.
        .target(name: "ReactorTesting", dependencies: ["Reactor"]),
        // The engine: glue between TorrentCore and Reactor.
        .target(name: "Client", dependencies: ["TorrentCore", "Reactor"], exclude: ["README.md"], swiftSettings: hotPath),
        // `evtorrent daemon`: settings, config directory, the Transmission RPC server.
        .target(
            name: "Daemon",
            dependencies: [
                "Client", "TorrentCore", "Reactor", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ], swiftSettings: functionSections),
        // The swarm behind `evtorrent bench`: a load generator, not the engine.
        .target(name: "Bench", dependencies: ["TorrentCore", "Reactor", "Client"], swiftSettings: functionSections),
        // The command line.
        .executableTarget(
            name: "evtorrent",
            dependencies: [
                "Client", "Daemon", "Bench", "TorrentCore", "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["function-order.txt"], swiftSettings: functionSections, linkerSettings: staticSwift),

        // Benchmarks/payload's engine: payload-path candidates and idle-connection cost.
        .executableTarget(name: "payload-bench", dependencies: ["Reactor"], path: "Benchmarks/PayloadBench"),
        // Benchmarks/json's engine: TorrentCore's JSON beside Foundation's.
        .executableTarget(name: "json-bench", dependencies: ["TorrentCore"], path: "Benchmarks/JSONBench"),
        // Benchmarks/mse's engine: MSE/PE's cipher in CPU seconds per GiB, its key exchange per handshake.
        .executableTarget(name: "mse-bench", dependencies: ["TorrentCore", "Reactor"], path: "Benchmarks/MSEBench"),
        // Benchmarks/tracker's engine: announce cost against swarm size.
        .executableTarget(name: "tracker-bench", dependencies: ["TorrentCore"], path: "Benchmarks/TrackerBench"),

        .testTarget(name: "TorrentCoreTests", dependencies: ["TorrentCore", "Reactor"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "ReactorTesting"]),
        .testTarget(name: "ClientTests", dependencies: ["Client", "TorrentCore", "Reactor", "ReactorTesting"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Client", "TorrentCore", "Reactor", "ReactorTesting"]),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "Client", "TorrentCore", "Reactor", "ReactorTesting"]),
        .testTarget(name: "InteropTests", dependencies: ["Client", "TorrentCore", "Reactor", "ReactorTesting"]),
    ]
)

// libFuzzer targets over the parsers, built only on request (they need -sanitize=fuzzer):
//   EVTORRENT_FUZZ=1 swift build --sanitize=fuzzer --scratch-path .build-fuzz --product FuzzBencode
// Fuzz/run builds and runs them all for a bounded time.
if Context.environment["EVTORRENT_FUZZ"] == "1" {
    for name in ["FuzzBencode", "FuzzMetainfo", "FuzzMagnet", "FuzzGzip", "FuzzJSON", "FuzzMetadata", "FuzzDiscovery", "FuzzMSE", "FuzzWire", "FuzzTracker", "FuzzBlocklist"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["TorrentCore"], path: "Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
    // The HTTP server's request parser lives in Reactor, beside the server.
    package.targets.append(.executableTarget(name: "FuzzHTTP", dependencies: ["Reactor"], path: "Fuzz/FuzzHTTP"))
    package.products.append(.executable(name: "FuzzHTTP", targets: ["FuzzHTTP"]))
}
