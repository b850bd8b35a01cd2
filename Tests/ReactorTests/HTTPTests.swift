import Foundation
import Testing

import ReactorTesting
@testable import Reactor

/// Runs `get` on the loop and waits for its answer.
private func fetch(
    _ client: HTTPClient, _ loop: EventLoop, _ url: String, timeout: Duration = .seconds(10), maxBytes: Int = 4 << 20
) -> Result<HTTPResponse, HTTPError>? {
    var result: Result<HTTPResponse, HTTPError>?
    client.get(url, timeout: timeout, maxResponseBytes: maxBytes) { result = $0 }
    loop.run(until: { result != nil }, timeout: timeout + .seconds(5))
    return result
}

@Suite struct HTTPTests {
    // A handler may answer later (the RPC's torrent-add by URL waits for a fetch): the reply
    // sent from a timer 100 ms on reaches the client, and the loop kept running meanwhile.
    @Test func answersLater() throws {
        let loop = try EventLoop()
        var ticks = 0
        loop.scheduleRepeating(every: .milliseconds(10)) { ticks += 1 }
        let server = try HTTPServer(loop: loop, address: loopback) { (request: HTTPRequest, responder: HTTPResponder) in
            loop.schedule(after: .milliseconds(100)) {
                responder.respond(HTTPServerResponse(status: 200, body: Array("later \(request.path)".utf8)))
            }
        }
        let response = try #require(try fetch(HTTPClient(loop: loop), loop, "http://127.0.0.1:\(server.localAddress.port)/x")?.get())
        #expect(response.status == 200 && response.body == Array("later /x".utf8))
        #expect(ticks >= 5)
    }

    // A client that gives up before the answer: answering later is safe (libevent finds the
    // client gone as it writes) and the server goes on serving; after the server closes, a
    // pending responder is closed and answering does nothing.
    @Test func lateAnswersAreSafe() throws {
        let loop = try EventLoop()
        var held: [HTTPResponder] = []
        let server = try HTTPServer(loop: loop, address: loopback) { (request: HTTPRequest, responder: HTTPResponder) in
            if request.path == "/slow" { held.append(responder) } else { responder.respond(HTTPServerResponse(status: 204)) }
        }
        let client = HTTPClient(loop: loop)
        let base = "http://127.0.0.1:\(server.localAddress.port)"
        guard case .failure = try #require(fetch(client, loop, base + "/slow", timeout: .milliseconds(300))) else {
            Issue.record("the slow request was answered")
            return
        }
        #expect(held.count == 1 && held[0].isOpen)
        held[0].respond(HTTPServerResponse(status: 200))
        #expect(!held[0].isOpen)
        #expect(try fetch(client, loop, base + "/fast")?.get().status == 204)
        // A request still waiting when the server closes.
        var last: Result<HTTPResponse, HTTPError>?
        client.get(base + "/slow", timeout: .seconds(5)) { last = $0 }
        _ = loop.run(until: { held.count == 2 }, timeout: .seconds(5))
        server.close()
        #expect(held.count == 2 && !held[1].isOpen)
        held[1].respond(HTTPServerResponse(status: 200))
        // The client hears that the server went away (not an answer).
        _ = loop.run(until: { last != nil }, timeout: .seconds(10))
        guard case .failure = last else {
            Issue.record("expected a failure, got \(String(describing: last))")
            return
        }
    }

    // Client and server on loopback: method, path, query and headers reach the handler; status,
    // headers and a 1 MiB body come back intact.
    @Test func getRoundTrip() throws {
        let loop = try EventLoop()
        let body = patternBytes(1 << 20, seed: 5)
        var seen: HTTPRequest?
        let server = try HTTPServer(loop: loop, address: loopback) { request in
            seen = request
            return HTTPServerResponse(status: 200, headers: [("X-Test", "yes")], body: body)
        }
        let client = HTTPClient(loop: loop)
        let url = "http://127.0.0.1:\(server.localAddress.port)/announce?info_hash=%00%FF&port=6881"
        let response = try #require(try fetch(client, loop, url)?.get())
        #expect(response.status == 200)
        #expect(response.header("x-test") == "yes")
        #expect(response.body == body)
        #expect(seen?.method == "GET")
        #expect(seen?.path == "/announce")
        #expect(seen?.query == "info_hash=%00%FF&port=6881")
        #expect(seen?.header("user-agent")?.hasPrefix("evtorrent/") == true)
        #expect(seen?.remoteAddress?.host == "127.0.0.1")
    }

    // A response over the cap fails with responseTooLarge instead of buffering it.
    @Test func responseSizeIsCapped() throws {
        let loop = try EventLoop()
        let server = try HTTPServer(loop: loop, address: loopback) { _ in
            HTTPServerResponse(status: 200, body: [UInt8](repeating: 1, count: 200_000))
        }
        let client = HTTPClient(loop: loop)
        let result = fetch(client, loop, "http://127.0.0.1:\(server.localAddress.port)/", maxBytes: 100_000)
        #expect(result.map { if case .failure(.responseTooLarge(100_000)) = $0 { true } else { false } } == true, "\(String(describing: result))")
    }

    // A server that accepts but never answers times out; a closed port is refused. Neither hangs.
    @Test func timeoutsAndRefusals() throws {
        let loop = try EventLoop()
        let silent = try loop.listen(on: loopback) { _ in Probe() }
        let client = HTTPClient(loop: loop)
        let slow = fetch(client, loop, "http://127.0.0.1:\(silent.localAddress.port)/", timeout: .seconds(1))
        #expect(slow.map { if case .failure(.timedOut) = $0 { true } else { false } } == true, "\(String(describing: slow))")
        let port = silent.localAddress.port
        silent.close()
        let refused = fetch(client, loop, "http://127.0.0.1:\(port)/", timeout: .seconds(2))
        #expect(refused.map { if case .failure(.connectionFailed) = $0 { true } else { false } } == true, "\(String(describing: refused))")
        let invalid = fetch(client, loop, "ftp://example/x")
        #expect(invalid.map { if case .failure(.invalidURL) = $0 { true } else { false } } == true)
    }

    // Names from /etc/hosts and numeric addresses resolve, always through the loop.
    @Test func resolvesLocalNames() throws {
        let loop = try EventLoop()
        let resolver = Resolver(loop: loop)
        var numeric: Result<[SocketAddress], ResolveError>?
        var local: Result<[SocketAddress], ResolveError>?
        resolver.resolve("127.0.0.1", port: 80) { numeric = $0 }
        resolver.resolve("localhost", port: 81) { local = $0 }
        #expect(numeric == nil && local == nil, "answers must come later, on the loop")
        #expect(loop.run(until: { numeric != nil && local != nil }, timeout: .seconds(5)))
        #expect(try numeric?.get() == [SocketAddress(host: "127.0.0.1", port: 80)!])
        let addresses = try local?.get() ?? []
        #expect(addresses.contains { $0.host == "127.0.0.1" || $0.host == "::1" })
        #expect(addresses.allSatisfy { $0.port == 81 })
    }
}

/// A test CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI,
/// served by `openssl s_server -www` (stopped by PID).
private struct TLSFixture {
    let directory: String
    let port: UInt16
    let server: Process

    static func make(serverName: String = "localhost", ip: String = "127.0.0.1") throws -> TLSFixture {
        let directory = NSTemporaryDirectory() + "evtorrent-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let san = "subjectAltName=DNS:\(serverName),IP:\(ip)"
        for (ca, _) in [("ca", 0), ("other-ca", 1)] {
            try run(
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(ca).key", "-out", "\(ca).pem", "-days",
                 "2", "-subj", "/CN=evtorrent test \(ca)"], in: directory)
        }
        try run(
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
             "/CN=\(serverName)"], in: directory)
        try "\(san)\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
        try run(
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             "server.pem", "-days", "2", "-extfile", "san.ext"], in: directory)
        // A free port: bind, note it, release it.
        let probe = try EventLoop().listen(on: loopback) { _ in nil }
        let port = probe.localAddress.port
        probe.close()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", "server.pem", "-key", "server.key", "-www", "-quiet"]
        server.currentDirectoryURL = URL(fileURLWithPath: directory)
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        server.standardInput = Pipe()
        try server.run()
        // Wait until it accepts connections.
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if ok == 0 { break }
            usleep(50_000)
        }
        return TLSFixture(directory: directory, port: port, server: server)
    }

    func stop() {
        // SIGKILL: a child spawned from a test thread inherits that thread's blocked signals, so
        // s_server may never see SIGTERM.
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func run(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments.joined(separator: " ")) failed")
    }
}

@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct HTTPSTests {
    // With the test CA trusted, HTTPS GET to the local TLS server succeeds, by IP and by name.
    @Test func trustedCertificateSucceeds() throws {
        let fixture = try TLSFixture.make()
        defer { fixture.stop() }
        let loop = try EventLoop()
        let client = HTTPClient(loop: loop, tls: try TLSContext(caFile: fixture.directory + "/ca.pem"))
        for host in ["127.0.0.1", "localhost"] {
            let result = fetch(client, loop, "https://\(host):\(fixture.port)/")
            let response = try #require(try result?.get(), "\(host): \(String(describing: result))")
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self).contains("s_server"))
        }
    }

    // With another CA, or the system store, the same server is refused with a clear TLS error and
    // no crash; a certificate for another name is refused too.
    @Test func untrustedOrMismatchedCertificateFails() throws {
        let fixture = try TLSFixture.make(serverName: "tracker.example", ip: "127.0.0.2")
        defer { fixture.stop() }
        let loop = try EventLoop()
        // nil: the client's own context, made at this first HTTPS request from the system store.
        for tls in [try TLSContext(caFile: fixture.directory + "/other-ca.pem"), try TLSContext(), nil] {
            let client = HTTPClient(loop: loop, tls: tls)
            let result = fetch(client, loop, "https://127.0.0.1:\(fixture.port)/")
            guard case .failure(.tls(let detail))? = result else {
                Issue.record("expected a TLS failure, got \(String(describing: result))")
                continue
            }
            #expect(detail.contains("certificate"), "\(detail)")
        }
        // Trusted CA, but the certificate names tracker.example and 127.0.0.2, not 127.0.0.1.
        let client = HTTPClient(loop: loop, tls: try TLSContext(caFile: fixture.directory + "/ca.pem"))
        let mismatch = fetch(client, loop, "https://127.0.0.1:\(fixture.port)/")
        guard case .failure(.tls(let detail))? = mismatch else {
            Issue.record("expected a TLS failure for a name mismatch, got \(String(describing: mismatch))")
            return
        }
        #expect(detail.contains("mismatch") || detail.contains("certificate"), "\(detail)")
    }
}
