import Foundation
import Testing

import ReactorTesting
@testable import Reactor

@Suite struct ConnectionTests {
    // 200 concurrent connections each send 64 KiB and get exactly their own bytes back.
    @Test func echoesThroughManyConcurrentConnections() throws {
        let loop = try EventLoop()
        let echo = Echo()
        let listener = try loop.listen(on: loopback) { _ in echo }
        var probes: [(Probe, [UInt8])] = []
        for index in 0..<200 {
            let payload = patternBytes(65_536, seed: UInt64(index))
            let probe = Probe()
            probe.onMade = { $0.write(payload) }
            loop.connect(to: listener.localAddress, handler: probe)
            probes.append((probe, payload))
        }
        let done = loop.run(until: { probes.allSatisfy { $0.0.received.count >= 65_536 } }, timeout: .seconds(20))
        #expect(done)
        #expect(probes.allSatisfy { $0.0.received == $0.1 })
        #expect(probes.allSatisfy { $0.0.made == 1 && $0.0.closeReasons.isEmpty })
    }

    // A receiver that keeps each record's 8-byte header and discards its body (buffered part
    // drained, the rest dropped in the kernel) stays aligned on every header, whatever the sizes
    // and however the reads split them.
    @Test func discardedInputKeepsTheStreamAligned() throws {
        let loop = try EventLoop()
        let lengths = (0..<300).map { ($0 * 104_729 + $0 * $0 * 17) % 100_000 }  // 0 to ~100 KB, scattered
        let sender = Probe()
        sender.onMade = { connection in
            for (index, length) in lengths.enumerated() {
                var record = withUnsafeBytes(of: UInt32(length).bigEndian, Array.init)
                record += withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)
                record += [UInt8](repeating: UInt8(index % 256), count: length)
                connection.write(record)
            }
            connection.close(flushingOutput: true)
        }
        let listener = try loop.listen(on: loopback) { _ in sender }
        var seen: [(index: Int, length: Int)] = []
        let receiver = Probe()
        receiver.onBytes = { connection, input in
            while let header = input.peek(8) {
                input.drain(8)
                let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
                let index = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
                seen.append((index, length))
                let buffered = min(length, input.count)
                input.drain(buffered)
                connection.discardInput(length - buffered)
            }
        }
        loop.connect(to: listener.localAddress, handler: receiver)
        #expect(loop.run(until: { !receiver.closeReasons.isEmpty }, timeout: .seconds(20)))
        #expect(seen.map(\.index) == Array(0..<300))
        #expect(seen.map(\.length) == lengths)
        #expect(receiver.closeReasons == [.peerClosed])
    }

    // libevent 2.1 reads 4 KiB per call; what waits beyond that is read in the same turn, so
    // 1 MiB arrives in a few large callbacks (not 256 of 4 KiB), intact.
    @Test func waitingInputArrivesInLargeReads() throws {
        let loop = try EventLoop()
        let payload = patternBytes(1 << 20, seed: 7)
        let sender = Probe()
        sender.onMade = { $0.write(payload) }
        let listener = try loop.listen(on: loopback) { _ in sender }
        var received: [UInt8] = []
        var chunks: [Int] = []
        let receiver = Probe()
        receiver.onBytes = { _, input in
            chunks.append(input.count)
            received += input.readAll()
        }
        loop.connect(to: listener.localAddress, handler: receiver)
        #expect(loop.run(until: { received.count >= payload.count }, timeout: .seconds(20)))
        #expect(received == payload)
        #expect(chunks.max()! > 4096)
        #expect(chunks.count <= 64, "\(chunks.count) callbacks")
    }

    // A file sent as 13-byte header + 16 KiB block messages arrives byte-identical, in every
    // payload mode, including a short last block.
    @Test(arguments: PayloadMode.allCases)
    func fileBlocksArriveIntact(mode: PayloadMode) throws {
        let path = NSTemporaryDirectory() + "evtorrent-blocks-\(UUID().uuidString)"
        let content = patternBytes(5 * 16_384 * 20 + 1_234, seed: 99)
        try Data(content).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try OpenFile(path: path, mode: mode)

        let loop = try EventLoop()
        var expected: [UInt8] = []
        let sender = Probe()
        sender.onMade = { connection in
            var offset = 0
            while offset < content.count {
                let length = min(16_384, content.count - offset)
                let header = [UInt8](repeating: UInt8(offset / 16_384 % 256), count: 13)
                #expect(connection.write(header: header, block: FileBlock(file: file, offset: Int64(offset), length: length)))
                expected += header + content[offset..<offset + length]
                offset += length
            }
            connection.close(flushingOutput: true)
        }
        let listener = try loop.listen(on: loopback) { _ in sender }
        let receiver = Probe()
        loop.connect(to: listener.localAddress, handler: receiver)
        #expect(loop.run(until: { !receiver.closeReasons.isEmpty }, timeout: .seconds(20)))
        #expect(receiver.received.count == expected.count)
        #expect(receiver.received == expected)
        #expect(receiver.closeReasons == [.peerClosed])
        #expect(sender.closeReasons == [.closedLocally])
        // A block past the end of the file is refused rather than sent short.
        #expect(!FileBlock(file: file, offset: Int64(content.count - 10), length: 16_384).isWithinFile)
    }

    // Batched blocks (one writev of headers and mapped blocks) arrive byte-identical and in
    // order with other writes between them: a batch larger than the socket takes leaves the rest
    // queued (pending output counts it), a batch past its item cap is sent in parts, a plain write
    // ends the batch first, and a batch is not started while output is queued.
    @Test func batchedBlocksArriveIntactAndInOrder() throws {
        let path = NSTemporaryDirectory() + "evtorrent-batch-\(UUID().uuidString)"
        let content = patternBytes(1_600 * 16_384 + 777, seed: 98)
        try Data(content).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try OpenFile(path: path, mode: .mappedReference)

        let loop = try EventLoop()
        var expected: [UInt8] = []
        var leftQueued = 0
        let sender = Probe()
        sender.onMade = { connection in
            var offset = 0
            func block() {
                let length = min(16_384, content.count - offset)
                let header = [UInt8](repeating: UInt8(offset / 16_384 % 251), count: 13)
                #expect(connection.write(header: header, block: FileBlock(file: file, offset: Int64(offset), length: length)))
                expected += header + content[offset..<offset + length]
                offset += length
            }
            connection.beginBatch()
            for _ in 0..<300 { block() }  // past the 256-item cap: sent in two parts
            connection.write([7, 7, 7])  // ends the batch: after the blocks before it
            expected += [7, 7, 7]
            for _ in 0..<10 { block() }  // no batch now: written as usual
            connection.endBatch()
            connection.beginBatch()  // output is queued: this batch does not start
            while offset < content.count { block() }
            #expect(connection.pendingOutputBytes > 0)
            connection.endBatch()
            leftQueued = connection.pendingOutputBytes
            connection.close(flushingOutput: true)
        }
        // What `sender` sends to a receiver that reads until the close.
        func received(from sender: Probe) throws -> Probe {
            let listener = try loop.listen(on: loopback) { _ in sender }
            let receiver = Probe()
            loop.connect(to: listener.localAddress, handler: receiver)
            #expect(loop.run(until: { !receiver.closeReasons.isEmpty }, timeout: .seconds(30)))
            return receiver
        }
        let receiver = try received(from: sender)
        #expect(leftQueued > 0)
        #expect(receiver.received.count == expected.count)
        #expect(receiver.received == expected)
        #expect(sender.closeReasons == [.closedLocally])

        // A batch the socket takes whole leaves nothing queued.
        let small = Probe()
        var queuedAfter = -1
        small.onMade = { connection in
            connection.beginBatch()
            for index in 0..<4 {
                #expect(connection.write(header: [UInt8(index)], block: FileBlock(file: file, offset: Int64(index) * 16_384, length: 16_384)))
            }
            #expect(connection.pendingOutputBytes == 4 * 16_385)
            connection.endBatch()
            queuedAfter = connection.pendingOutputBytes
            connection.close(flushingOutput: true)
        }
        let receiver2 = try received(from: small)
        #expect(queuedAfter == 0)
        var wanted: [UInt8] = []
        for index in 0..<4 { wanted += [UInt8(index)] + content[index * 16_384..<(index + 1) * 16_384] }
        #expect(receiver2.received == wanted)
    }

    // Backpressure: while the receiver reads nothing, pending output stays above the producer's
    // high watermark and the producer stops; once reading resumes, "output flushed" restarts it
    // and every byte arrives.
    @Test func backpressureStopsAndResumesProducer() throws {
        let loop = try EventLoop()
        let total = 64 << 20
        let chunk = [UInt8](repeating: 0xA5, count: 64 << 10)
        var produced = 0
        var stalls = 0
        let producer = Probe()
        let fill: (any Connection) -> Void = { connection in
            while connection.pendingOutputBytes < 1 << 20 && produced < total {
                connection.write(chunk)
                produced += chunk.count
            }
            if produced < total { stalls += 1 } else { connection.close(flushingOutput: true) }
        }
        producer.onMade = { connection in
            connection.setOutputLowWatermark(256 << 10)
            fill(connection)
        }
        producer.onFlushed = fill
        var consumer: (any Connection)?
        var consumed = 0
        let reader = Probe()
        reader.onMade = { connection in
            consumer = connection
            connection.pauseReading()
        }
        reader.onBytes = { _, input in
            consumed += input.count
            input.drain(input.count)
        }
        let listener = try loop.listen(on: loopback) { _ in producer }
        loop.connect(to: listener.localAddress, handler: reader)

        // Paused: the kernel buffers fill, the producer stalls well short of the total.
        loop.run(until: { false }, timeout: .milliseconds(300))
        let producedWhilePaused = produced
        #expect(producedWhilePaused < total / 2)
        #expect(stalls >= 1)
        loop.run(until: { false }, timeout: .milliseconds(200))
        #expect(produced == producedWhilePaused, "the producer kept writing while the peer was not reading")

        consumer?.resumeReading()
        #expect(loop.run(until: { consumed == total }, timeout: .seconds(30)))
        #expect(stalls > 1)
        #expect(producer.flushed > 1)
    }

    // Closing a connection from inside its own bytesArrived is safe: the handler hears the close
    // exactly once and nothing is delivered afterwards.
    @Test func closeInsideOwnCallbackIsSafe() throws {
        let loop = try EventLoop()
        let server = Probe()
        var deliveries = 0
        server.onBytes = { connection, input in
            deliveries += 1
            input.drain(input.count)
            connection.close()
            connection.close()  // twice is harmless
            connection.write([1, 2, 3])  // and writing after close does nothing
        }
        let listener = try loop.listen(on: loopback) { _ in server }
        let client = Probe()
        client.onMade = { connection in
            connection.write(Array(repeating: 7, count: 10_000))
            connection.write(Array(repeating: 8, count: 10_000))
        }
        loop.connect(to: listener.localAddress, handler: client)
        #expect(loop.run(until: { !client.closeReasons.isEmpty && !server.closeReasons.isEmpty }, timeout: .seconds(5)))
        #expect(server.closeReasons == [.closedLocally])
        // Closing with unread bytes makes the kernel send a reset, so the client may see either.
        #expect(client.closeReasons.count == 1)
        let reason = client.closeReasons.first
        #expect(reason == .peerClosed || reason == .failed(SystemError(errno: ECONNRESET, operation: "socket")))
        #expect(deliveries == 1)
    }

    // A refused connect reports connectFailed with the errno, and never connectionMade.
    @Test func refusedConnectReportsFailure() throws {
        let loop = try EventLoop()
        // Bind and close a listener to find a port nobody listens on.
        let port = try loop.listen(on: loopback) { _ in nil }
        let address = port.localAddress
        port.close()
        let probe = Probe()
        loop.connect(to: address, handler: probe)
        #expect(loop.run(until: { !probe.closeReasons.isEmpty }, timeout: .seconds(5)))
        #expect(probe.made == 0)
        guard case .connectFailed(let error) = probe.closeReasons.first else {
            Issue.record("expected connectFailed, got \(probe.closeReasons)")
            return
        }
        #expect(error.errno == ECONNREFUSED)
    }

    // A handler may refuse a connection by returning nil: the peer sees it closed.
    @Test func refusingAcceptClosesPeer() throws {
        let loop = try EventLoop()
        let listener = try loop.listen(on: loopback) { _ in nil }
        let probe = Probe()
        loop.connect(to: listener.localAddress, handler: probe)
        #expect(loop.run(until: { !probe.closeReasons.isEmpty }, timeout: .seconds(5)))
        #expect(probe.closeReasons.first == .peerClosed || probe.closeReasons.first.map { "\($0)".contains("reset") } == true)
    }

    // IPv6 loopback works end to end (skipped if the machine has no ::1).
    @Test func ipv6Loopback() throws {
        let loop = try EventLoop()
        guard let listener = try? loop.listen(on: SocketAddress(host: "::1", port: 0)!, accept: { _ in Echo() }) else {
            return
        }
        #expect(listener.localAddress.isIPv6)
        let probe = Probe()
        probe.onMade = { $0.write(Array("hello".utf8)) }
        loop.connect(to: listener.localAddress, handler: probe)
        #expect(loop.run(until: { probe.received.count == 5 }, timeout: .seconds(5)))
        #expect(probe.received == Array("hello".utf8))
    }
}

@Suite struct SocketAddressTests {
    // Text forms parse and print back, for both families; junk is refused.
    @Test func parsesAndPrints() {
        #expect(SocketAddress(parsing: "127.0.0.1:6881")?.description == "127.0.0.1:6881")
        #expect(SocketAddress(parsing: "[::1]:80")?.description == "[::1]:80")
        #expect(SocketAddress(parsing: "[2001:db8::1]:65535")?.port == 65535)
        #expect(SocketAddress(parsing: "127.0.0.1") == nil)
        #expect(SocketAddress(parsing: "1.2.3.4:99999") == nil)
        #expect(SocketAddress(parsing: "host:80") == nil)
        #expect(SocketAddress(ip: [127, 0, 0, 1], port: 1)?.host == "127.0.0.1")
    }
}

@Suite struct ConnectTimeoutTests {
    // A connect that gets no answer ends with .timedOut at the deadline, not never. A listening
    // socket that never accepts, with its tiny backlog full, makes the kernel drop further SYNs.
    @Test func connectTimesOut() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 0) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        let target = SocketAddress(host: "127.0.0.1", port: UInt16(bigEndian: address.sin_port))!
        let loop = try EventLoop()
        let probes = (0..<4).map { _ in Probe() }
        let start = loop.now
        for probe in probes { loop.connect(to: target, timeout: .milliseconds(300), handler: probe) }
        #expect(loop.run(until: { probes.contains { $0.closeReasons == [.timedOut] } }, timeout: .seconds(5)))
        #expect(loop.now - start >= .milliseconds(300))
        #expect(loop.now - start < .seconds(3))
    }
}
