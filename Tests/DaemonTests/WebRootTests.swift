import Foundation
import Glibc
import Reactor
import ReactorTesting
import Testing
import TorrentCore

@testable import Daemon

@Suite struct WebRootTests {
    // Files inside the root are served ("" is the index); `..`, encoded separators, NULs and a
    // symlink pointing outside are refused before anything is read; a missing file is 404.
    @Test func servesOnlyInsideTheRoot() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("web/index.html", Array("<html>".utf8))
        try directory.write("web/javascript/main.js", Array("x".utf8))
        try directory.write("secret.txt", Array("no".utf8))
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/web/escape", withDestinationPath: directory.path + "/secret.txt")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/web/inside.js", withDestinationPath: directory.path + "/web/javascript/main.js")
        let root = WebRoot(directory.path + "/web")
        let real = try #require(RealPath.resolve(directory.path + "/web"))
        #expect(try root.file(for: "").get() == real + "/index.html")
        #expect(try root.file(for: "javascript/main.js").get() == real + "/javascript/main.js")
        #expect(try root.file(for: "javascript%2Fmain.js".replacingOccurrences(of: "%2F", with: "/")).get() == real + "/javascript/main.js")
        #expect(try root.file(for: "inside.js").get() == real + "/javascript/main.js")
        for hostile in ["../secret.txt", "javascript/../../secret.txt", "%2e%2e/secret.txt", "..%2Fsecret.txt", "javascript%2F..%2F..%2Fsecret.txt",
                        "a%00b", "escape", "%2", "..\\secret.txt", "javascript%2fmain.js", "javascript%5Cmain.js"] {
            guard case .failure(let error) = root.file(for: hostile) else {
                Issue.record("served \(hostile)")
                continue
            }
            #expect(error == .forbidden || error == .notFound, "\(hostile): \(error)")
        }
        #expect(root.file(for: "missing.js").failure == .notFound)
        #expect(WebRoot(directory.path + "/nowhere").file(for: "").failure == .noWebRoot)
    }
}

@Suite struct DaemonSettingsTests {
    // settings.json: the file's values over the defaults, keys evtorrent does not know kept and
    // written back, and a broken file refused with a message that names it.
    @Test func keepsUnknownKeysAndRefusesBrokenFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/settings.json"
        try directory.write("settings.json", Array(#"{"rpc-port": 9999, "some-future-key": {"a": [1, 2]}, "download-dir": "/data"}"#.utf8))
        var settings = try DaemonSettings.load(path, home: "/home/x")
        #expect(settings.integer("rpc-port") == 9999 && settings.string("download-dir") == "/data")
        #expect(settings.integer("peer-port") == 51413 && settings.bool("rpc-whitelist-enabled"))
        settings["peer-port"] = .integer(6000)
        try settings.save(path)
        let again = try DaemonSettings.load(path, home: "/home/x")
        #expect(again["some-future-key"] == .object([("a", .array([.integer(1), .integer(2)]))]))
        #expect(again.integer("peer-port") == 6000 && again.integer("rpc-port") == 9999)
        #expect(again.access(sessionID: "s").whitelist == ["127.0.0.1", "::1"])

        // Saving what the file already says leaves it alone (every start saves); a change is
        // written (atomically: a new file renamed over the old).
        func inode() -> UInt {
            var status = stat()
            return stat(path, &status) == 0 ? UInt(status.st_ino) : 0
        }
        let before = inode()
        try again.save(path)
        #expect(inode() == before && before != 0)
        var changed = again
        changed["peer-port"] = .integer(6001)
        try changed.save(path)
        let reloaded = try DaemonSettings.load(path, home: "/home/x")
        #expect(inode() != before && reloaded.integer("peer-port") == 6001)

        try directory.write("settings.json", Array("{\"rpc-port\": ".utf8))
        #expect(throws: DaemonError.self) { try DaemonSettings.load(path, home: "/home/x") }
        #expect(DaemonSettings(json: nil, home: "/h").string("download-dir") == "/h/Downloads")
    }
}

@Suite struct SaltedPasswordTests {
    // A settings.json written by transmission-daemon holds the password salted and hashed; the
    // right password passes the gate through it, a wrong one and a wrong user do not (the vector
    // is from Transmission's own tests). A plain password is compared as it is.
    @Test func acceptsTransmissionsHashedPasswords() throws {
        let check = try #require(DaemonSettings.saltedCheck("{15ad0621b259a84d24dcd4e75b09004e98a3627bAMbyRHJy"))
        #expect(check("test") && !check("tset") && !check(""))
        #expect(DaemonSettings.saltedCheck("plain") == nil && DaemonSettings.saltedCheck("{short") == nil)

        var settings = DaemonSettings(json: .object([
            ("rpc-authentication-required", .bool(true)), ("rpc-username", .string("ops")),
            ("rpc-password", .string("{15ad0621b259a84d24dcd4e75b09004e98a3627bAMbyRHJy")),
        ]), home: "/h")
        func status(_ credentials: String) -> Int? {
            let header = "Basic " + Base64.encode(Array(credentials.utf8))
            let answer = RPCGate.admit(path: "/transmission/rpc", remoteHost: "127.0.0.1", access: settings.access(sessionID: "s")) {
                $0.lowercased() == "authorization" ? header : nil
            }
            if case .answer(let status, _, _) = answer { return status }
            return nil
        }
        #expect(status("ops:test") == 409)
        #expect(status("ops:tset") == 401 && status("root:test") == 401 && status("ops") == 401)
        settings["rpc-password"] = .string("test")
        #expect(status("ops:test") == 409 && status("ops:{15ad0621b259a84d24dcd4e75b09004e98a3627bAMbyRHJy") == 401)
        // Written back, a plain password is stored salted and hashed; it still opens the gate.
        let protected = settings.protectPassword()
        #expect(protected)
        let stored = settings.string("rpc-password")
        #expect(stored.hasPrefix("{") && stored.count == 49 && !stored.contains("test"))
        #expect(status("ops:test") == 409 && status("ops:tset") == 401)
        let again = settings.protectPassword()
        #expect(!again && settings.string("rpc-password") == stored)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
