import Reactor
import ReactorTesting
import Testing

@Suite struct ManualLoopTests {
    // Virtual time: nothing runs until advanced; tasks run at their own deadlines, in order,
    // ties in scheduling order; repeating tasks fire once per interval; cancel works.
    @Test func advancesVirtualTimeInDeadlineOrder() {
        let loop = ManualLoop()
        let start = loop.now
        var log: [String] = []
        loop.schedule(after: .seconds(10)) { log.append("10s at \(loop.now - start)") }
        loop.schedule(after: .seconds(5)) { log.append("5s") }
        loop.schedule(after: .seconds(5)) { log.append("5s again") }
        let cancelled = loop.schedule(after: .seconds(7)) { log.append("never") }
        var ticks = 0
        loop.scheduleRepeating(every: .seconds(3)) { ticks += 1 }
        cancelled.cancel()
        #expect(log.isEmpty)
        loop.advance(by: .seconds(9))
        #expect(log == ["5s", "5s again"])
        #expect(ticks == 3)
        loop.advance(by: .seconds(1))
        #expect(log.last == "10s at 10.0 seconds")
        #expect(loop.now - start == .seconds(10))
    }

    // A task may schedule another that falls due within the same advance.
    @Test func tasksScheduledWhileAdvancingRunIfDue() {
        let loop = ManualLoop()
        var order: [Int] = []
        loop.schedule(after: .seconds(1)) {
            order.append(1)
            loop.schedule(after: .seconds(1)) { order.append(2) }
        }
        loop.advance(by: .seconds(5))
        #expect(order == [1, 2])
    }
}

@Suite struct FakeConnectionTests {
    // Unconsumed bytes are offered again with the next delivery, as an evbuffer keeps them.
    @Test func keepsUnreadInputAndRecordsOutput() {
        let probe = Probe()
        var chunks: [[UInt8]] = []
        probe.onBytes = { connection, input in
            while let frame = input.read(3) {
                chunks.append(frame)
                connection.write(frame.reversed())
            }
        }
        let connection = FakeConnection(handler: probe)
        connection.deliver([1, 2])
        connection.deliver([3, 4, 5, 6, 7])
        #expect(chunks == [[1, 2, 3], [4, 5, 6]])
        #expect(connection.takeWritten() == [3, 2, 1, 6, 5, 4])
        connection.pauseReading()
        connection.deliver([8, 9])
        #expect(chunks.count == 2)
        connection.resumeReading()
        #expect(chunks.last == [7, 8, 9])
        connection.peerClose()
        connection.peerClose()
        #expect(probe.closeReasons == [.peerClosed])
    }
}
