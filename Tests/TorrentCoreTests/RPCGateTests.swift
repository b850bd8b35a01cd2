import Testing

@testable import TorrentCore

private func admit(
    _ path: String, from host: String = "127.0.0.1", access: RPCAccess, headers: [String: String] = [:]
) -> RPCGateAnswer {
    RPCGate.admit(path: path, remoteHost: host, access: access) { name in
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

private func status(_ answer: RPCGateAnswer) -> Int? {
    if case .answer(let status, _, _) = answer { return status }
    return nil
}

@Suite struct RPCGateTests {
    // The session-id handshake: a request without the id (Sonarr's first bare GET included) gets
    // 409 carrying it; resent with it, the request passes.
    @Test func sessionIDHandshake() {
        let access = RPCAccess(sessionID: "abc123")
        guard case .answer(409, let headers, _) = admit("/transmission/rpc", access: access) else {
            Issue.record("no 409")
            return
        }
        #expect(headers == [.init("X-Transmission-Session-Id", "abc123")])
        #expect(status(admit("/transmission/rpc", access: access, headers: ["x-transmission-session-id": "wrong"])) == 409)
        #expect(admit("/transmission/rpc", access: access, headers: ["X-Transmission-Session-Id": "abc123"]) == .pass(.rpc))
    }

    // The whitelist refuses other addresses with 403 (default: loopback only, IPv4-mapped too);
    // patterns take wildcards; disabled, anyone passes.
    @Test func whitelist() {
        var access = RPCAccess(sessionID: "s")
        #expect(status(admit("/transmission/web/", from: "192.168.1.5", access: access)) == 403)
        #expect(admit("/transmission/web/", from: "::1", access: access) == .pass(.web("")))
        #expect(admit("/transmission/web/", from: "::ffff:127.0.0.1", access: access) == .pass(.web("")))
        access.whitelist = ["127.0.0.1", " 192.168.*.* "]
        #expect(admit("/transmission/web/index.html", from: "192.168.1.5", access: access) == .pass(.web("index.html")))
        #expect(status(admit("/transmission/web/", from: "10.0.0.1", access: access)) == 403)
        access.whitelistEnabled = false
        #expect(admit("/metrics", from: "10.0.0.1", access: access) == .pass(.metrics))
    }

    // Basic authentication: without credentials a 401 carrying WWW-Authenticate (curl sends them
    // only after that); a wrong password, a wrong user, a longer or shorter one, or garbage are
    // all refused; the right ones pass on to the session-id check.
    @Test func basicAuthentication() {
        var access = RPCAccess(sessionID: "s")
        access.authenticationRequired = true
        access.username = "alice"
        access.password = "s3cret"
        guard case .answer(401, let headers, _) = admit("/transmission/rpc", access: access) else {
            Issue.record("no 401")
            return
        }
        #expect(headers == [.init("WWW-Authenticate", "Basic realm=\"Transmission\"")])
        for credentials in ["alice:wrong", "bob:s3cret", "alice:s3cret2", "alice:s3cre", "", "alice"] {
            let header = "Basic " + Base64.encode(Array(credentials.utf8))
            #expect(status(admit("/transmission/rpc", access: access, headers: ["Authorization": header])) == 401, "\(credentials)")
        }
        #expect(status(admit("/transmission/rpc", access: access, headers: ["Authorization": "Basic !!!"])) == 401)
        let good = "Basic " + Base64.encode(Array("alice:s3cret".utf8))
        #expect(status(admit("/transmission/rpc", access: access, headers: ["Authorization": good])) == 409)
        #expect(admit("/transmission/rpc", access: access, headers: ["Authorization": good, "X-Transmission-Session-Id": "s"]) == .pass(.rpc))
    }

    // Routing: `/` and unknown paths go to the web client (301); the web client is served before
    // the session-id check; other /transmission/ paths are 404.
    @Test func routing() {
        let access = RPCAccess(sessionID: "s")
        guard case .answer(301, let headers, _) = admit("/", access: access) else {
            Issue.record("no redirect")
            return
        }
        #expect(headers == [.init("Location", "/transmission/web/")])
        #expect(status(admit("/transmission/web", access: access)) == 301)
        #expect(admit("/transmission/web/javascript/main.js?v=1", access: access) == .pass(.web("javascript/main.js")))
        #expect(status(admit("/transmission/upload", access: access)) == 404)
    }

    // Base64 both ways, whitespace and missing padding tolerated, garbage refused.
    @Test func base64() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            #expect(Base64.decode(Base64.encode(Array(text.utf8))) == Array(text.utf8))
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy" && Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode("Zm9v\nYmE=") == Array("fooba".utf8))
        #expect(Base64.decode("Zm8") == Array("fo".utf8))
        for bad in ["Zm9v!", "Z", "Zm=9", "Zm9vY===", "=Zm9"] { #expect(Base64.decode(bad) == nil, "\(bad)") }
    }
}
