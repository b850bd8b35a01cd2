import Testing

@testable import Reactor

private func head(_ text: String, maxHead: Int = 1024, maxBody: Int = 1 << 20) throws(HTTPRequestHead.Refusal) -> HTTPRequestHead.Outcome {
    try HTTPRequestHead.parse(Array(text.utf8), maxHeadBytes: maxHead, maxBodyBytes: maxBody)
}

private func refusal(_ text: String, maxHead: Int = 1024, maxBody: Int = 1 << 20) -> Int? {
    do {
        _ = try head(text, maxHead: maxHead, maxBody: maxBody)
        return nil
    } catch {
        return error.status
    }
}

@Suite struct HTTPRequestHeadTests {
    // What transmission-remote (curl), browsers and Prometheus send parses into method, path,
    // query, headers, body length and keep-alive; the head's length is exact.
    @Test func parsesRealRequests() throws {
        let curl = "POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1:9091\r\nAccept: */*\r\nX-Transmission-Session-Id: abc\r\nContent-Length: 37\r\nExpect: 100-continue\r\n\r\n"
        guard case .head(let post) = try head(curl + "{\"method\"") else {
            Issue.record("not parsed")
            return
        }
        #expect(post.method == "POST" && post.path == "/transmission/rpc" && post.query.isEmpty)
        #expect(post.contentLength == 37 && post.keepAlive && post.expectsContinue && post.length == curl.utf8.count)
        #expect(post.headers.first { $0.name == "X-Transmission-Session-Id" }?.value == "abc")

        guard case .head(let get) = try head("GET http://host:1/announce?info_hash=%00&port=1 HTTP/1.0\n\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(get.path == "/announce" && get.query == "info_hash=%00&port=1" && !get.keepAlive && get.contentLength == 0)
        guard case .head(let closing) = try head("HEAD /metrics HTTP/1.1\r\nConnection: close\r\nX-Pad:   spaced  \r\n\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(!closing.keepAlive && closing.headers.last?.value == "spaced")
        #expect(HTTPRequestHead.lists("close", in: "keep-alive, close") && HTTPRequestHead.lists("close", in: "close"))
        #expect(!HTTPRequestHead.lists("close", in: "keep-alive") && !HTTPRequestHead.lists("close", in: "closed, upgrade"))
        #expect(try head("GET /x HTTP/1.1\r\nHost: a\r\n") == .incomplete)
        #expect(try head("GE") == .incomplete)
    }

    // Each kind of bad request gets its status, without waiting for more bytes where the answer
    // is already certain.
    @Test func refusesBadRequests() {
        #expect(refusal("DELETE / HTTP/1.1\r\n\r\n") == 405)
        #expect(refusal("BREW ") == 405)
        #expect(refusal("\u{16}\u{03}\u{01}\u{02}") == 400)  // a TLS hello
        #expect(refusal("GET / HTTP/2.0\r\n\r\n") == 505)
        #expect(refusal("GET  / HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET relative HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nA: b\u{1B}c\r\n\r\n") == 400)
        #expect(refusal("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400)
        #expect(refusal("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400)
        #expect(refusal("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == 400)
        #expect(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
        #expect(refusal("POST / HTTP/1.1\r\nContent-Length: 2049\r\n\r\n", maxBody: 2048) == 413)
        #expect(refusal("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000), maxHead: 1024) == 431)
        #expect(refusal("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 1010) + "\r\n\r\n", maxHead: 1024) == 431)
    }
}

/// A raw client: writes what it is given, keeps what comes back, notes when it closes.
private func rawClient(_ loop: EventLoop, _ server: HTTPServer, from local: SocketAddress? = nil) -> (Probe, any Connection) {
    let probe = Probe()
    let connection = loop.connect(to: SocketAddress(host: "127.0.0.1", port: server.localAddress.port)!, from: local, handler: probe)
    return (probe, connection)
}

@Suite struct HTTPServerTests {
    private func server(_ loop: EventLoop, _ limits: HTTPServerLimits = HTTPServerLimits()) throws -> HTTPServer {
        try HTTPServer(loop: loop, address: loopback, limits: limits) { request in
            HTTPServerResponse(status: 200, body: Array("\(request.method) \(request.path) \(request.body.count)".utf8))
        }
    }

    // Two requests on one kept-alive connection: a POST whose client waits for 100 Continue before
    // its body, then a HEAD, which gets the length and no body.
    @Test func keepsAliveAndAnswersInOrder() throws {
        let loop = try EventLoop()
        let server = try server(loop)
        let (probe, connection) = rawClient(loop, server)
        connection.write(Array("POST /a HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".utf8))
        loop.run(until: { String(decoding: probe.received, as: UTF8.self).contains("100 Continue") }, timeout: .seconds(5))
        connection.write(Array("hello".utf8))
        loop.run(until: { String(decoding: probe.received, as: UTF8.self).contains("POST /a 5") }, timeout: .seconds(5))
        connection.write(Array("HEAD /b HTTP/1.1\r\n\r\n".utf8))
        loop.run(until: { String(decoding: probe.received, as: UTF8.self).components(separatedBy: "HTTP/1.1 200").count == 3 }, timeout: .seconds(5))
        let text = String(decoding: probe.received, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"))
        #expect(text.contains("Content-Length: 9\r\n\r\nPOST /a 5HTTP/1.1 200 OK\r\n"))
        #expect(text.hasSuffix("Content-Length: 9\r\n\r\n"))  // the length of "HEAD /b 0", but no body
        #expect(probe.closeReasons.isEmpty && server.connectionCount == 1)
    }

    // A client that sends a byte now and then, one that connects and says nothing, and one kept
    // alive but idle are all closed on time; a good request is answered meanwhile.
    @Test func slowAndIdleClientsAreClosed() throws {
        let loop = try EventLoop()
        var limits = HTTPServerLimits()
        limits.requestTimeout = .seconds(2)
        // Well apart from the request time: the sweep runs once a second, and a busy machine
        // (the suite runs in parallel) must not see both deadlines fall in one sweep.
        limits.idleTimeout = .seconds(6)
        let server = try server(loop, limits)
        let (silentProbe, _) = rawClient(loop, server)
        let (slowProbe, slow) = rawClient(loop, server)
        let drip = Array("GET /slow HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: 0x61, count: 100)
        var sent = 0
        let timer = loop.scheduleRepeating(every: .milliseconds(300)) {
            if sent < drip.count { slow.write([drip[sent]]); sent += 1 }
        }
        let (idleProbe, idle) = rawClient(loop, server)
        idle.write(Array("GET /once HTTP/1.1\r\n\r\n".utf8))
        let (goodProbe, good) = rawClient(loop, server)
        loop.run(until: { server.connectionCount == 4 }, timeout: .seconds(2))
        good.write(Array("GET /good HTTP/1.1\r\nConnection: close\r\n\r\n".utf8))
        loop.run(until: { !goodProbe.closeReasons.isEmpty }, timeout: .seconds(2))
        #expect(String(decoding: goodProbe.received, as: UTF8.self).hasSuffix("GET /good 0"))
        loop.run(until: { !silentProbe.closeReasons.isEmpty && !slowProbe.closeReasons.isEmpty }, timeout: .seconds(5))
        #expect(!silentProbe.closeReasons.isEmpty && !slowProbe.closeReasons.isEmpty, "closed after the 2 s request time")
        #expect(sent < drip.count)
        #expect(String(decoding: idleProbe.received, as: UTF8.self).hasSuffix("GET /once 0") && idleProbe.closeReasons.isEmpty)
        loop.run(until: { !idleProbe.closeReasons.isEmpty }, timeout: .seconds(8))
        #expect(!idleProbe.closeReasons.isEmpty, "idle keep-alive closed after 6 s")
        #expect(server.closedForTime == 3 && server.connectionCount == 0)
        timer.cancel()
    }

    // One address gets its share of connections; others still get in; the total is capped too.
    @Test func capsConnectionsPerAddressAndInAll() throws {
        let loop = try EventLoop()
        var limits = HTTPServerLimits()
        limits.maxConnectionsPerAddress = 3
        limits.maxConnections = 5
        let server = try server(loop, limits)
        let greedy = (0..<5).map { _ in rawClient(loop, server, from: SocketAddress(host: "127.0.0.9", port: 0)!) }
        loop.run(until: { greedy.filter { !$0.0.closeReasons.isEmpty }.count == 2 }, timeout: .seconds(3))
        #expect(greedy.filter { !$0.0.closeReasons.isEmpty }.count == 2 && server.connectionCount == 3)
        let others = (2...4).map { rawClient(loop, server, from: SocketAddress(host: "127.0.0.\($0)", port: 0)!) }
        loop.run(until: { others.contains { !$0.0.closeReasons.isEmpty } }, timeout: .seconds(2))
        #expect(server.connectionCount == 5 && server.refused == 3)
        let (probe, connection) = others[0]
        connection.write(Array("GET /ok HTTP/1.1\r\n\r\n".utf8))
        loop.run(until: { String(decoding: probe.received, as: UTF8.self).hasSuffix("GET /ok 0") }, timeout: .seconds(2))
        #expect(String(decoding: probe.received, as: UTF8.self).hasSuffix("GET /ok 0"))
    }

    // A bad request gets its status and the connection closes; the server goes on.
    @Test func refusesAndCloses() throws {
        let loop = try EventLoop()
        let server = try HTTPServer(loop: loop, address: loopback, limits: HTTPServerLimits(maxBodyBytes: 10)) { _ in HTTPServerResponse(status: 200) }
        for (request, status) in [("PUT / HTTP/1.1\r\n\r\n", "405"), ("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", "413"), ("\u{16}\u{03}\u{01}junk", "400")] {
            let (probe, connection) = rawClient(loop, server)
            connection.write(Array(request.utf8))
            loop.run(until: { !probe.closeReasons.isEmpty }, timeout: .seconds(3))
            #expect(String(decoding: probe.received, as: UTF8.self).hasPrefix("HTTP/1.1 \(status) "), "\(request)")
            #expect(!probe.closeReasons.isEmpty)
        }
    }
}
