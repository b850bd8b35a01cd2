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
