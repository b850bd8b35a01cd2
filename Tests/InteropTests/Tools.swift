import Foundation
import Testing

/// Finds and runs the real programs interop tests compare against.
///
/// A test that needs a missing tool is skipped on a developer's machine and fails when
/// `EVTORRENT_REQUIRE_INTEROP=1` (CI sets it after installing the Debian packages).
enum Tools {
    static let required = ProcessInfo.processInfo.environment["EVTORRENT_REQUIRE_INTEROP"] == "1"

    /// Debian's own Python, which python3-libtorrent installs into (not a pyenv one on PATH).
    static let python = "/usr/bin/python3"

    /// The absolute path of `name` on PATH, or nil.
    static func path(of name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A python3-libtorrent seed: `python3 -c libtorrentSeed TORRENT SAVE_PATH PORT` checks the
    /// data (with a fourth argument, `required` or `plaintext`: MSE forced or refused), announces
    /// again once complete (so a tracker hears it as a seed), prints "seeding"
    /// and keeps seeding until killed. Several connections per IP are allowed: on loopback every
    /// peer is 127.0.0.1, and a tracker names the seed to itself (its dial to itself would
    /// otherwise make it drop ours as a duplicate).
    static let libtorrentSeed = libtorrentSession() + """
        if len(sys.argv) > 4:
            ses.apply_settings(libtorrent_encryption[sys.argv[4]])
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[1]), 'save_path': sys.argv[2]})
        while not h.status().is_seeding:
            time.sleep(0.1)
        h.force_reannounce()
        print("seeding", flush=True)
        time.sleep(3600)
        """

    /// The start of a python3-libtorrent script: imports, and `ses`, a session listening on
    /// 127.0.0.1 at `port` (python: the third argument by default) with no DHT, LSD, UPnP, NAT-PMP
    /// or uTP (or it tries uTP first), several connections per IP allowed, and `settings` added;
    /// `libtorrent_encryption['required' | 'plaintext']` are settings that force MSE or refuse it.
    static func libtorrentSession(port: String = "sys.argv[3]", settings: String = "") -> String {
        """
        import sys, time, libtorrent as lt
        ses = lt.session({'listen_interfaces': '127.0.0.1:%s' % \(port), 'enable_dht': False, 'enable_lsd': False,
                          'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                          'enable_incoming_utp': False, 'allow_multiple_connections_per_ip': True\(settings)})
        # MSE/PE forced (RC4 only) or disabled, for ses.apply_settings.
        libtorrent_encryption = {'required': {'out_enc_policy': 0, 'in_enc_policy': 0, 'allowed_enc_level': 2},
                                 'plaintext': {'out_enc_policy': 2, 'in_enc_policy': 2}}

        """
    }

    /// Whether python3-libtorrent imports.
    static let hasLibtorrent: Bool = {
        guard path(of: python) != nil else { return false }
        return (try? run([python, "-c", "import libtorrent"]).status) == 0
    }()

    /// Whether the test may run: the tools are there, or CI insists (and the test then fails on its own).
    static func enabled(_ names: String...) -> Bool {
        required || names.allSatisfy { $0 == "libtorrent" ? hasLibtorrent : path(of: $0) != nil }
    }

    /// The evtorrent binary built next to the test bundle (or `EVTORRENT_BIN`).
    static let evtorrent: String = {
        if let explicit = ProcessInfo.processInfo.environment["EVTORRENT_BIN"] { return explicit }
        let bundleDirectory = (CommandLine.arguments[0] as NSString).deletingLastPathComponent
        for candidate in [bundleDirectory, (bundleDirectory as NSString).deletingLastPathComponent] {
            let path = candidate + "/evtorrent"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        return root + "/.build/debug/evtorrent"
    }()

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a command to completion under `timeout` (so a hung tool cannot hang the suite), its
    /// standard input the file at `input` (nothing if nil).
    @discardableResult
    static func run(_ arguments: [String], in directory: String? = nil, seconds: Int = 120, input: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["--kill-after=5", String(seconds)] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input.flatMap { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
        try process.run()
        // Read both pipes before waiting, so a chatty tool cannot block on a full pipe.
        let errBox = DataBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Runs a command and requires exit status 0, reporting its output if not.
    @discardableResult
    static func check(_ arguments: [String], in directory: String? = nil, sourceLocation: SourceLocation = #_sourceLocation)
        throws -> String
    {
        let output = try run(arguments, in: directory)
        try #require(
            output.status == 0, "\(arguments.joined(separator: " ")) exited \(output.status): \(output.stderr)",
            sourceLocation: sourceLocation)
        return output.stdout
    }
}

/// Bytes handed from the reader thread to the waiting one (written before `group.wait()` returns).
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
