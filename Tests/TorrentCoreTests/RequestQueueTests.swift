import Testing

@testable import TorrentCore

@Suite struct RequestQueueTests {
    // Against a plain array as the model: appends, pops from the front and removals in between
    // keep arrival order, whenever the served part is dropped.
    @Test func keepsArrivalOrderThroughPopsAndRemovals() {
        var queue = RequestQueue()
        var model: [BlockRequest] = []
        for step in 0..<2_000 {
            let request = BlockRequest(piece: PieceIndex(step % 97), offset: (step % 16) * 16_384, length: 16_384)
            switch step % 5 {
            case 0, 1, 2:
                if !model.contains(request) {
                    queue.append(request)
                    model.append(request)
                }
            case 3:
                if !model.isEmpty { #expect(queue.popFirst() == model.removeFirst()) }
            default:
                let victim = model.isEmpty ? request : model[step % model.count]
                #expect(queue.remove(victim) == model.contains(victim))
                model.removeAll { $0 == victim }
            }
            #expect(queue.count == model.count)
            #expect(queue.isEmpty == model.isEmpty)
        }
        #expect(queue.elements == model)
        #expect(model.allSatisfy { queue.contains($0) })
    }

    // The filter before the scan never hides a queued request, through rebuilds (many distinct
    // requests), emptying and refilling, and removals; and a request not queued is not found.
    @Test func containsAgreesWithTheQueueThroughFilterRebuilds() {
        var queue = RequestQueue()
        var model: [BlockRequest] = []
        for step in 0..<5_000 {
            let request = BlockRequest(piece: PieceIndex((step * 7919) % 1_009), offset: (step % 13) * 16_384, length: 16_384)
            #expect(queue.contains(request) == model.contains(request))
            if step % 3 == 2, !model.isEmpty {
                #expect(queue.popFirst() == model.removeFirst())
            } else if !model.contains(request) {
                queue.append(request)
                model.append(request)
            }
            if step % 400 == 399 { while !model.isEmpty { #expect(queue.popFirst() == model.removeFirst()) } }
            if step % 97 == 0, let victim = model.last {
                let removed = queue.remove(victim)
                #expect(removed)
                model.removeLast()
            }
        }
        #expect(model.allSatisfy { queue.contains($0) })
        #expect(!queue.contains(BlockRequest(piece: PieceIndex(5_000), offset: 0, length: 16_384)))
        // Steady state, as a seeder sees it: a short queue, one in and one out, so the filter is
        // rebuilt again and again with requests queued.
        while !model.isEmpty { #expect(queue.popFirst() == model.removeFirst()) }
        // The same at depths either side of the wide filter's threshold (64).
        for depth in [20, 250] {
            for step in 0..<2_000 {
                let request = BlockRequest(piece: PieceIndex(depth * 10_000 + step), offset: 0, length: 16_384)
                queue.append(request)
                model.append(request)
                if model.count > depth {
                    let served = model.removeFirst()
                    #expect(queue.popFirst() == served)
                    #expect(!queue.contains(served))
                }
                if step % 7 == 0 { #expect(model.allSatisfy { queue.contains($0) }) }
            }
            while !model.isEmpty { #expect(queue.popFirst() == model.removeFirst()) }
        }
        for step in 0..<2_000 {
            let request = BlockRequest(piece: PieceIndex(2_000 + step), offset: 0, length: 16_384)
            queue.append(request)
            model.append(request)
            if model.count > 20 {
                let served = model.removeFirst()
                #expect(queue.popFirst() == served)
                #expect(!queue.contains(served))
            }
            #expect(model.allSatisfy { queue.contains($0) })
        }
    }
}
