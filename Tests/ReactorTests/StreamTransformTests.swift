import Foundation
import Testing

import ReactorTesting
@testable import Reactor

/// A stand-in stream cipher: XOR with a keystream that depends on the position, so a byte
/// transformed twice, skipped, or out of order comes out wrong (as with RC4).
final class TestKeystream: StreamTransform {
    private var inPosition: UInt32
    private var outPosition: UInt32

    init(inbound: UInt32, outbound: UInt32) {
        inPosition = inbound
        outPosition = outbound
    }

    static func key(_ position: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: (position &* 2_654_435_761) >> 13) | 1 }

    func inbound(_ bytes: UnsafeMutableRawBufferPointer) {
        for index in bytes.indices {
            bytes[index] ^= Self.key(inPosition)
            inPosition &+= 1
        }
    }

    func outbound(_ bytes: UnsafeMutableRawBufferPointer) {
        for index in bytes.indices {
            bytes[index] ^= Self.key(outPosition)
            outPosition &+= 1
        }
    }
}

@Suite struct StreamTransformTests {
    // Over loopback: a plaintext greeting, then ciphered bytes and ciphered file blocks; the
    // receiver reads the greeting, starts its transform with ciphered bytes already waiting in
    // its input buffer (MSE's pitfall), and gets every byte back in order.
    @Test func cipheredStreamRoundTrips() throws {
        let path = NSTemporaryDirectory() + "evtorrent-transform-\(UUID().uuidString)"
        let content = patternBytes(5 * 16_384 + 777, seed: 3)
        try Data(content).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try OpenFile(path: path, mode: .mappedReference)

        let loop = try EventLoop()
        let greeting = Array("PLAIN".utf8)
        let body = patternBytes(300_000, seed: 4)
        var expected = body
        let sender = Probe()
        // The greeting goes out plain; the transform covers only what is written after it.
        sender.onMade = { connection in
            connection.write(greeting)
            connection.startTransform(TestKeystream(inbound: 0, outbound: 1_000))
            connection.write(body)
            var offset = 0
            while offset < content.count {
                let length = min(16_384, content.count - offset)
                let header = [UInt8](repeating: 0xAA, count: 13)
                #expect(connection.write(header: header, block: FileBlock(file: file, offset: Int64(offset), length: length)))
                expected += header + content[offset..<offset + length]
                offset += length
            }
            connection.close(flushingOutput: true)
        }
        let listener = try loop.listen(on: loopback) { _ in sender }
        var received: [UInt8] = []
        var sawGreeting = false
        let receiver = Probe()
        receiver.onBytes = { connection, input in
            if !sawGreeting {
                guard input.count >= greeting.count else { return }
                #expect(input.read(greeting.count) == greeting)
                sawGreeting = true
                connection.startTransform(TestKeystream(inbound: 1_000, outbound: 0))
            }
            received += input.readAll()
        }
        loop.connect(to: listener.localAddress, handler: receiver)
        #expect(loop.run(until: { !receiver.closeReasons.isEmpty }, timeout: .seconds(20)))
        #expect(received.count == expected.count)
        let same = received == expected
        #expect(same)
    }

    // The fake connection ciphers what the handler writes and deciphers what it delivers, the
    // leftovers of the delivery that started the transform included.
    @Test func fakeConnectionAppliesTheTransform() {
        let handler = Probe()
        var started = false
        var got: [UInt8] = []
        let connection = FakeConnection(handler: handler)
        handler.onBytes = { connection, input in
            if !started {
                _ = input.read(2)
                started = true
                connection.startTransform(TestKeystream(inbound: 0, outbound: 0))
                connection.write([1, 2, 3])
                return
            }
            got += input.readAll()
        }
        var wire: [UInt8] = [9, 9] + [10, 20, 30]
        let cipher = TestKeystream(inbound: 0, outbound: 0)
        wire.withUnsafeMutableBytes { cipher.outbound(UnsafeMutableRawBufferPointer(rebasing: $0[2...])) }
        connection.deliver(wire)
        #expect(got == [10, 20, 30])
        var sent = connection.takeWritten()
        let decipher = TestKeystream(inbound: 0, outbound: 0)
        sent.withUnsafeMutableBytes { decipher.inbound($0) }
        #expect(sent == [1, 2, 3])
    }
}
