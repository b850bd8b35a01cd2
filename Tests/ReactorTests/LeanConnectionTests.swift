import Foundation
import Testing

import ReactorTesting
@testable import Reactor

/// Accepted connections start lean (no bufferevent): they must behave as bufferevents do, hold
/// nothing while idle, and become one when a rate limit asks, losing no byte either way.
@Suite struct LeanConnectionTests {
    // An idle accepted connection keeps no buffer and no write event once its bytes are gone.
    @Test func idleConnectionHoldsNoBuffers() throws {
        let loop = try EventLoop()
        var accepted: BufferEventConnection?
        let server = Probe()
        server.onBytes = { connection, input in
            server.received += input.readAll()
            connection.write(Array("welcome".utf8))
        }
        let listener = try loop.listen(on: loopback) { connection in
            accepted = connection as? BufferEventConnection
            return server
        }
        let client = Probe()
        client.onMade = { $0.write(Array("hello".utf8)) }
        loop.connect(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { client.received.count == 7 }, timeout: .seconds(10)))
        #expect(server.received == Array("hello".utf8))
        #expect(accepted?.isLean == true)
        #expect(accepted?.isLeanAndIdle == true)
    }

    // A rate limit set inside the handler, with bytes still unread and replies queued, turns the
    // connection into a bufferevent: what was unread is delivered next (even when nothing more
    // arrives: 2,000 bytes come in one read), replies keep their order.
    @Test(arguments: [2_000, 300_000])
    func promotionInsideTheHandlerLosesNothing(size: Int) throws {
        let loop = try EventLoop()
        let payload = patternBytes(size, seed: 9)
        let server = Probe()
        var promoted = false
        var accepted: BufferEventConnection?
        server.onBytes = { connection, input in
            if !promoted, input.count >= 100 {
                let first = input.read(100)!
                server.received += first
                connection.write(first)
                connection.setRateLimit(RateLimit(readBytesPerSecond: 64 << 20, writeBytesPerSecond: 64 << 20))
                promoted = true
                return  // the rest stays unread for now
            }
            let bytes = input.readAll()
            server.received += bytes
            connection.write(bytes)
        }
        let listener = try loop.listen(on: loopback) { connection in
            accepted = connection as? BufferEventConnection
            return server
        }
        let client = Probe()
        client.onMade = { $0.write(payload) }
        loop.connect(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { client.received.count >= payload.count }, timeout: .seconds(20)))
        #expect(promoted)
        #expect(accepted?.isLean == false)
        let (serverGotAll, clientGotAll) = (server.received == payload, client.received == payload)
        #expect(serverGotAll)
        #expect(clientGotAll)
    }

    // A peer that answers at once (on another core, as a leecher does) must not keep the loop
    // reading it: after a short read the next bytes wait for the loop's next turn, so two such
    // peers take turns. Reading on until the socket was empty served one peer window after
    // window while the others waited (uneven per-peer rates in Benchmarks/compare).
    @Test func aPeerAnsweringAtOnceTakesTurnsWithAnother() throws {
        let loop = try EventLoop()
        var order: [Int] = []
        var peers: [Int32] = []
        var servers: [Probe] = []
        for index in 0..<2 {
            let server = Probe()
            server.onBytes = { _, input in
                _ = input.readAll()
                order.append(index)
                // The peer's answer is in the socket before the handler returns.
                if order.count < 40 { _ = Glibc.write(peers[index], "ping", 4) }
            }
            servers.append(server)
        }
        var acceptedCount = 0
        let listener = try loop.listen(on: loopback) { _ in
            defer { acceptedCount += 1 }
            return servers[acceptedCount]
        }
        for _ in 0..<2 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = listener.localAddress.port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(connected == 0)
            peers.append(fd)
        }
        defer { for fd in peers { Glibc.close(fd) } }
        #expect(loop.run(until: { acceptedCount == 2 }, timeout: .seconds(10)))
        for fd in peers { _ = Glibc.write(fd, "ping", 4) }
        #expect(loop.run(until: { order.count >= 40 }, timeout: .seconds(10)))
        // Each turn serves each readable peer once: at most two calls in a row for one peer (the
        // last of one turn, the first of the next).
        var longest = 0, run = 0
        for (position, index) in order.enumerated() {
            run = position > 0 && order[position - 1] == index ? run + 1 : 1
            longest = max(longest, run)
        }
        #expect(longest <= 2, "calls in order: \(order)")
        #expect(order.filter { $0 == 0 }.count >= 15 && order.filter { $0 == 1 }.count >= 15)
    }

    // The peer closing is heard once, after every byte it sent.
    @Test func peerCloseIsHeardAfterItsBytes() throws {
        let loop = try EventLoop()
        let server = Probe()
        let listener = try loop.listen(on: loopback) { _ in server }
        let client = Probe()
        let payload = patternBytes(50_000, seed: 2)
        client.onMade = { connection in
            connection.write(payload)
            connection.close(flushingOutput: true)
        }
        loop.connect(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { !server.closeReasons.isEmpty }, timeout: .seconds(10)))
        #expect(server.received == payload)
        #expect(server.closeReasons == [.peerClosed])
    }
}
