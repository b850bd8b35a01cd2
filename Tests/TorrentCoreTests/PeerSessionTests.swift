import Testing

@testable import TorrentCore

/// A seeder's session: 10 pieces of 32 KiB, the last one 5,000 bytes.
private func seedSession(fast: Bool = true, extensions: Bool = true, now: ContinuousClock.Instant) -> PeerSession {
    let configuration = PeerSessionConfiguration(pieceLength: 32_768, totalLength: 9 * 32_768 + 5_000)
    return PeerSession(
        configuration: configuration, ours: Bitfield(count: 10, allSet: true), peerSupportsFast: fast,
        peerSupportsExtensions: extensions, now: now)
}

private func block(_ piece: Int, _ offset: Int = 0, _ length: Int = 16_384) -> BlockRequest {
    BlockRequest(piece: PieceIndex(piece), offset: offset, length: length)
}

@Suite struct PeerSessionTests {
    let start = ContinuousClock.now

    // A seed opens with the extension handshake (upload_only, reqq) and HaveAll with the fast
    // extension, a full bitfield without it.
    @Test func opensWithHaveAllOrBitfield() throws {
        var fast = seedSession(now: start)
        let actions = fast.start(now: start)
        #expect(actions.last == .send(.haveAll))
        guard case .send(.extended(0, let payload)) = actions.first else { Issue.record("no extension handshake"); return }
        let handshake = try ExtensionHandshake(payload: payload)
        #expect(handshake.uploadOnly && handshake.requestQueueLength == 250)
        var plain = seedSession(fast: false, extensions: false, now: start)
        #expect(plain.start(now: start) == [.send(.bitfield([0xFF, 0xC0]))])
    }

    // Requests wait while choked (rejected with the fast extension), are served in order once
    // unchoked, and a cancelled one is rejected instead of sent.
    @Test func servesRequestsOnlyWhenUnchoked() throws {
        var session = seedSession(now: start)
        _ = session.start(now: start)
        _ = try session.received(.interested, now: start)
        #expect(try session.received(.request(block(0)), now: start) == [.send(.rejectRequest(block(0)))])
        #expect(session.setChoking(false) == [.send(.unchoke)])
        for request in [block(0), block(0, 16_384), block(9, 0, 5_000), block(3)] {
            #expect(try session.received(.request(request), now: start) == [])
        }
        #expect(try session.received(.cancel(block(9, 0, 5_000)), now: start) == [.send(.rejectRequest(block(9, 0, 5_000)))])
        #expect(session.nextRequest() == block(0))
        #expect(session.nextRequest() == block(0, 16_384))
        // Choking rejects what is still queued.
        #expect(session.setChoking(true) == [.send(.choke), .send(.rejectRequest(block(3)))])
        #expect(session.nextRequest() == nil)
    }

    // Hostile requests close the peer: out of range, past the piece end (the short last piece
    // too), oversized, zero-length.
    @Test func invalidRequestsCloseThePeer() throws {
        for request in [block(10), block(0, 32_768 - 100), block(9, 0, 5_001), block(0, 0, 128 * 1024 + 1), block(0, 0, 0),
                        block(-1)] {
            var session = seedSession(now: start)
            _ = session.setChoking(false)
            #expect(throws: PeerError.invalidRequest(request)) { try session.received(.request(request), now: start) }
        }
    }

    // A block outside the torrent closes the peer (FuzzWire's find: it went on to the torrent);
    // an unasked block inside it goes on, for the downloader to judge.
    @Test func blocksOutsideTheTorrentCloseThePeer() throws {
        for request in [block(10), block(0, 32_768 - 100), block(9, 0, 5_001), block(-1), block(0, -16)] {
            var session = seedSession(now: start)
            #expect(throws: PeerError.self) { try session.received(.piece(request, [UInt8](repeating: 0, count: max(0, request.length))[...]), now: start) }
        }
        var session = seedSession(now: start)
        let inside = block(9, 0, 5_000)
        let data = [UInt8](repeating: 1, count: 5_000)[...]
        #expect(try session.received(.piece(inside, data), now: start) == [.storeBlock(inside, data)])
    }

    // The request fast path answers as the message path does: choked, duplicates, out of range,
    // over the cap and the flood that closes the peer; the queue ends the same.
    @Test func receivedRequestMatchesTheMessagePath() throws {
        var requests = [block(0), block(0), block(12), block(9, 0, 5_000)]
        for piece in 0..<9 { for offset in stride(from: 0, to: 32_768, by: 64) { requests.append(block(piece, offset, 64)) } }
        for fast in [true, false] {
            var viaMessage = seedSession(fast: fast, now: start), direct = seedSession(fast: fast, now: start)
            for (index, request) in requests.enumerated() {
                if index == 2 {
                    _ = viaMessage.setChoking(false)
                    _ = direct.setChoking(false)
                }
                let expected = Result { () throws(PeerError) in try viaMessage.received(.request(request), now: start) }
                let got = Result { () throws(PeerError) in try direct.receivedRequest(request, now: start).map { [$0] } ?? [] }
                #expect(got == expected, "request \(index): \(request)")
                if case .failure = expected { break }
            }
            #expect(direct.queuedRequests == viaMessage.queuedRequests)
        }
    }

    // Over the queue cap requests are rejected (fast) or dropped; a sustained flood closes the peer.
    @Test func requestFloodIsCappedThenDropped() throws {
        for fast in [true, false] {
            var session = seedSession(fast: fast, now: start)
            _ = session.setChoking(false)
            var rejected = 0
            var thrown: PeerError?
            var sent = 0
            outer: for piece in 0..<10 {
                for offset in stride(from: 0, to: 32_768, by: 16) {
                    guard piece < 9 || offset + 16 <= 5_000 else { continue }
                    sent += 1
                    do {
                        rejected += try session.received(.request(block(piece, offset, 16)), now: start).count
                    } catch {
                        thrown = error
                        break outer
                    }
                }
            }
            #expect(session.queuedRequests.count == 250)
            #expect(rejected == (fast ? 250 : 0))
            #expect(thrown == .requestFlood(queued: 251), "fast=\(fast) after \(sent)")
        }
    }

    // Bitfields: right size, spare bits clear (a late one, as aria2 sends, is merged); fast-only
    // messages need the extension; two seeds part company.
    @Test func validatesBitfieldsAndFastMessages() throws {
        var late = seedSession(now: start)
        _ = try late.received(.bitfield([0x80, 0]), now: start)
        _ = try late.received(.interested, now: start)
        _ = try late.received(.bitfield([0x40, 0]), now: start)
        #expect(late.peerPieces.bytes == [0xC0, 0])
        var spare = seedSession(now: start)
        #expect(throws: PeerError.badBitfield) { try spare.received(.bitfield([0, 0x20]), now: start) }
        var short = seedSession(now: start)
        #expect(throws: PeerError.badBitfield) { try short.received(.bitfield([0]), now: start) }
        var plain = seedSession(fast: false, now: start)
        #expect(throws: PeerError.self) { try plain.received(.haveAll, now: start) }
        var seed = seedSession(now: start)
        #expect(throws: PeerError.bothSeeds) { try seed.received(.haveAll, now: start) }
        // The extension handshake may come before the bitfield (aria2 does this).
        var leech = seedSession(now: start)
        _ = try leech.received(.extended(id: 0, payload: ExtensionHandshake().payload()), now: start)
        _ = try leech.received(.keepAlive, now: start)
        _ = try leech.received(.bitfield([0x80, 0]), now: start)
        #expect(leech.peerPieces.setCount == 1)
        #expect(throws: PeerError.self) { try leech.received(.have(PieceIndex(10)), now: start) }
    }

    // Keep-alive after 90 s of sending nothing; close after 180 s of hearing nothing.
    @Test func keepAliveAndIdleTimeout() throws {
        var session = seedSession(now: start)
        #expect(session.timerFired(now: start + .seconds(60)) == [])
        #expect(session.timerFired(now: start + .seconds(91)) == [.send(.keepAlive)])
        _ = try session.received(.keepAlive, now: start + .seconds(100))
        #expect(session.timerFired(now: start + .seconds(250)) == [.send(.keepAlive)])
        #expect(session.timerFired(now: start + .seconds(281)) == [.close(.idle)])
    }

    // MARK: - Downloading

    private func leechSession(fast: Bool = true) -> PeerSession {
        let configuration = PeerSessionConfiguration(pieceLength: 32_768, totalLength: 9 * 32_768 + 5_000)
        return PeerSession(
            configuration: configuration, ours: Bitfield(count: 10), peerSupportsFast: fast, peerSupportsExtensions: true,
            now: start)
    }

    // What the peer announces is counted once: a bitfield, a later bitfield's new bits, a new Have.
    @Test func countsWhatThePeerAnnounces() throws {
        var session = leechSession()
        var field = Bitfield(count: 10)
        field[PieceIndex(1)] = true
        #expect(try session.received(.bitfield(field.bytes), now: start) == [.countPieces(field)])
        #expect(try session.received(.have(PieceIndex(1)), now: start) == [])
        #expect(try session.received(.have(PieceIndex(2)), now: start) == [.countPiece(PieceIndex(2))])
        var later = Bitfield(count: 10)
        later[PieceIndex(2)] = true
        later[PieceIndex(7)] = true
        var added = Bitfield(count: 10)
        added[PieceIndex(7)] = true
        #expect(try session.received(.bitfield(later.bytes), now: start) == [.countPieces(added)])
        var seedPeer = leechSession()
        #expect(try seedPeer.received(.haveAll, now: start) == [.countPieces(Bitfield(count: 10, allSet: true))])
    }

    // Requests go out once each; blocks come back to be stored; a choke or a reject releases what
    // is still outstanding; a cancel withdraws one.
    @Test func tracksOurRequests() throws {
        var session = leechSession()
        #expect(session.setInterested(true, now: start) == [.send(.interested)])
        #expect(session.setInterested(true, now: start) == [])
        _ = try session.received(.unchoke, now: start)
        #expect(!session.peerChoking)
        let sent = session.sendRequests([block(0), block(0, 16_384), block(0)], now: start)
        #expect(sent == [.send(.request(block(0))), .send(.request(block(0, 16_384)))])
        #expect(try session.received(.piece(block(0), [1, 2]), now: start) == [.storeBlock(block(0), [1, 2])])
        #expect(session.outstanding == [block(0, 16_384)])
        _ = session.sendRequests([block(1), block(2)], now: start)
        #expect(session.cancel(block(2)) == [.send(.cancel(block(2)))])
        #expect(try session.received(.rejectRequest(block(1)), now: start) == [.releaseRequests([block(1)])])
        #expect(try session.received(.rejectRequest(block(1)), now: start) == [])
        #expect(try session.received(.choke, now: start) == [.releaseRequests([block(0, 16_384)])])
        #expect(session.peerChoking && session.outstanding.isEmpty)
        // Without the fast extension a Reject is a protocol violation.
        var plain = leechSession(fast: false)
        #expect(throws: PeerError.self) { try plain.received(.rejectRequest(block(1)), now: start) }
    }

    // A peer that sits on our requests for a minute is snubbed: they are cancelled and released,
    // and a block from it lifts the snub.
    @Test func snubsAPeerThatSitsOnRequests() throws {
        var session = leechSession()
        _ = try session.received(.unchoke, now: start)
        _ = session.sendRequests([block(3), block(4)], now: start)
        #expect(session.timerFired(now: start + .seconds(30)) == [])
        let actions = session.timerFired(now: start + .seconds(61))
        #expect(actions == [.send(.cancel(block(3))), .send(.cancel(block(4))), .releaseRequests([block(3), block(4)])])
        #expect(session.isSnubbed)
        _ = session.sendRequests([block(5)], now: start + .seconds(62))
        _ = try session.received(.piece(block(5), [0]), now: start + .seconds(63))
        #expect(!session.isSnubbed)
    }

    // Our last piece makes us a seed: with a seed peer the connection has no purpose.
    @Test func closesWhenBothBecomeSeeds() throws {
        var session = leechSession()
        _ = try session.received(.haveAll, now: start)
        for piece in 0..<9 { #expect(session.weGotPiece(PieceIndex(piece)) == [.send(.have(PieceIndex(piece)))]) }
        #expect(session.weGotPiece(PieceIndex(9)) == [.close(.bothSeeds)])
    }
}
