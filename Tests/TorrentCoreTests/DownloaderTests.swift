import Testing

@testable import TorrentCore

/// A torrent of `pieces` pieces of two blocks each (32 KiB), everything wanted, none had.
private func downloader(pieces: Int = 4, have: [Int] = []) -> Downloader {
    var field = Bitfield(count: pieces)
    for piece in have { field[PieceIndex(piece)] = true }
    let picker = PiecePicker(pieceLength: 32_768, totalLength: Int64(pieces) * 32_768, have: field)
    return Downloader(picker: picker, seed: 7)
}

private func block(_ piece: Int, _ offset: Int = 0) -> BlockRequest {
    BlockRequest(piece: PieceIndex(piece), offset: offset, length: 16_384)
}

private func view(
    pieces: Bitfield, outstanding: Set<BlockRequest> = [], interested: Bool = true, choking: Bool = false,
    snubbed: Bool = false, reqq: Int = 250
) -> PeerDownloadView {
    PeerDownloadView(
        amInterested: interested, peerChoking: choking, pieces: pieces, outstanding: outstanding, isSnubbed: snubbed,
        requestQueueLimit: reqq)
}

private let a = PeerKey(1)
private let b = PeerKey(2)
private let data = ArraySlice([UInt8](repeating: 0xAB, count: 16_384))
private let bad = ArraySlice([UInt8](repeating: 0x00, count: 16_384))

/// Every request in `actions`, in order.
private func requests(_ actions: [DownloadAction]) -> [BlockRequest] {
    actions.flatMap { action -> [BlockRequest] in
        if case .request(_, let list) = action { return list }
        return []
    }
}

@Suite struct DownloaderTests {
    let start = ContinuousClock.now

    // Interest follows what a peer has: a bitfield with a wanted piece makes us interested, one
    // with only pieces we have does not, and a Have of a wanted piece does.
    @Test func becomesInterestedOnlyInWantedPieces() {
        var download = downloader(have: [0, 1])
        download.peerJoined(a, host: "10.0.0.1")
        var owned = Bitfield(count: 4)
        owned[PieceIndex(0)] = true
        #expect(download.peerHas(a, pieces: owned, amInterested: false).isEmpty)
        #expect(download.peerHas(a, piece: PieceIndex(2), amInterested: false) == [.setInterested(a, true)])
        #expect(download.peerHas(a, piece: PieceIndex(3), amInterested: true).isEmpty)
    }

    // A new peer gets a first pipeline of every block up to the 16-request minimum; a choking
    // peer, or one we are not interested in, gets none; a snubbed peer gets one at a time.
    @Test func fillsPipelineToItsDepth() {
        var download = downloader(pieces: 20)
        download.peerJoined(a, host: "10.0.0.1")
        let all = Bitfield(count: 20, allSet: true)
        _ = download.peerHas(a, pieces: all, amInterested: false)
        #expect(download.fill(a, view(pieces: all, choking: true)).isEmpty)
        #expect(download.fill(a, view(pieces: all, interested: false)).isEmpty)
        #expect(requests(download.fill(a, view(pieces: all))).count == Downloader.minimumDepth)
        download.peerJoined(b, host: "10.0.0.2")
        #expect(requests(download.fill(b, view(pieces: all, snubbed: true))).count == 1)
        // A peer whose reqq is 4 never holds more than 4.
        let c = PeerKey(3)
        download.peerJoined(c, host: "10.0.0.3")
        #expect(requests(download.fill(c, view(pieces: all, reqq: 4))).count == 4)
    }

    // Requests go out in batches: with 15 of 16 outstanding there is room for one, below a
    // quarter of the pipeline, so nothing is sent until more room opens.
    @Test func requestsInBatches() {
        var download = downloader(pieces: 20)
        download.peerJoined(a, host: "10.0.0.1")
        let all = Bitfield(count: 20, allSet: true)
        _ = download.peerHas(a, pieces: all, amInterested: false)
        let first = requests(download.fill(a, view(pieces: all)))
        #expect(download.fill(a, view(pieces: all, outstanding: Set(first.dropFirst()))).isEmpty)
        let room = requests(download.fill(a, view(pieces: all, outstanding: Set(first.dropFirst(4)))))
        #expect(room.count == 4)
    }

    // The pipeline follows the rate: 10 MiB/s for two seconds asks for ~3 s of blocks.
    @Test func depthFollowsRate() {
        var download = downloader(pieces: 2_000)
        download.peerJoined(a, host: "10.0.0.1")
        let all = Bitfield(count: 2_000, allSet: true)
        _ = download.peerHas(a, pieces: all, amInterested: false)
        for _ in 0..<2 {
            var arrived = 0
            while arrived < 640 {
                for request in requests(download.fill(a, view(pieces: all))) {
                    _ = download.blockArrived(from: a, request, data)
                    arrived += 1
                }
            }
            _ = download.tick(now: start)
        }
        // Rate after two halving samples of 10 MiB: 7.5 MiB/s; 3 s of it is 1,440 blocks, capped at 500.
        #expect(download.requestDepth(a, view(pieces: all, reqq: 2_000)) == Downloader.maximumDepth)
        #expect(download.requestDepth(a, view(pieces: all, reqq: 300)) == 300)
    }

    // Once nothing is left that a peer has and nothing is outstanding there, interest is dropped.
    @Test func losesInterestWhenNothingIsLeft() {
        var download = downloader(pieces: 2, have: [1])
        download.peerJoined(a, host: "10.0.0.1")
        var only = Bitfield(count: 2)
        only[PieceIndex(0)] = true
        _ = download.peerHas(a, pieces: only, amInterested: false)
        let picked = requests(download.fill(a, view(pieces: only)))
        #expect(picked == [block(0), block(0, 16_384)])
        for request in picked { _ = download.blockArrived(from: a, request, data) }
        // Whole but not yet verified and written: still wanted.
        #expect(download.fill(a, view(pieces: only)).isEmpty)
        _ = download.pieceHashed(PieceIndex(0), ok: true)
        _ = download.pieceWritten(PieceIndex(0))
        #expect(download.fill(a, view(pieces: only)) == [.setInterested(a, false)])
    }

    // A whole piece is handed out for hashing with exactly the bytes that arrived; when it
    // verifies it goes to the disk, and only once written does it count (Have), the last one
    // finishing the download.
    @Test func pieceCountsOnlyOnceVerifiedAndWritten() {
        var download = downloader(pieces: 1)
        download.peerJoined(a, host: "10.0.0.1")
        _ = download.peerHas(a, pieces: Bitfield(count: 1, allSet: true), amInterested: false)
        _ = download.fill(a, view(pieces: Bitfield(count: 1, allSet: true)))
        let second = ArraySlice([UInt8](repeating: 0xCD, count: 16_384))
        #expect(download.blockArrived(from: a, block(0), data).isEmpty)
        let expected = Array(data) + Array(second)
        #expect(download.blockArrived(from: a, block(0, 16_384), second) == [.verify(PieceIndex(0), expected)])
        #expect(download.pieceHashed(PieceIndex(0), ok: true) == [.write(PieceIndex(0), expected)])
        #expect(!download.isFinished)
        #expect(download.pieceWritten(PieceIndex(0)) == [.have(PieceIndex(0)), .finished])
        #expect(download.downloadedBytes == 32_768)
    }

    // A block of the wrong length, from an unknown peer, or already received is dropped.
    @Test func dropsUnwantedBlocks() {
        var download = downloader(pieces: 1)
        download.peerJoined(a, host: "10.0.0.1")
        _ = download.peerHas(a, pieces: Bitfield(count: 1, allSet: true), amInterested: false)
        _ = download.fill(a, view(pieces: Bitfield(count: 1, allSet: true)))
        #expect(download.blockArrived(from: a, block(0), data.dropLast()).isEmpty)
        #expect(download.blockArrived(from: b, block(0), data).isEmpty)
        _ = download.blockArrived(from: a, block(0), data)
        #expect(download.blockArrived(from: a, block(0), data).isEmpty)
        #expect(download.downloadedBytes == 16_384)
    }

    // Endgame: a block asked of two peers is cancelled at the other once one delivers it.
    @Test func cancelsEndgameDuplicates() {
        var download = downloader(pieces: 1)
        let all = Bitfield(count: 1, allSet: true)
        download.peerJoined(a, host: "10.0.0.1")
        download.peerJoined(b, host: "10.0.0.2")
        _ = download.peerHas(a, pieces: all, amInterested: false)
        _ = download.peerHas(b, pieces: all, amInterested: false)
        let atA = requests(download.fill(a, view(pieces: all)))
        let atB = requests(download.fill(b, view(pieces: all)))
        #expect(atA.count == 2 && Set(atB) == Set(atA))
        #expect(download.blockArrived(from: b, block(0), data).first == .cancel(block(0), except: b))
    }

    // A peer that leaves gives back its requests: another peer can take them at once.
    @Test func departedPeersRequestsGoBack() {
        var download = downloader(pieces: 1)
        let all = Bitfield(count: 1, allSet: true)
        download.peerJoined(a, host: "10.0.0.1")
        _ = download.peerHas(a, pieces: all, amInterested: false)
        let held = requests(download.fill(a, view(pieces: all)))
        #expect(download.peerLeft(a, pieces: all, released: held) == [.refill])
        download.peerJoined(b, host: "10.0.0.2")
        _ = download.peerHas(b, pieces: all, amInterested: false)
        #expect(requests(download.fill(b, view(pieces: all))) == held)
    }

    // A piece that fails its hash check is fetched again; its bytes no longer count; a host that
    // sent all of a failed piece twice is banned.
    @Test func bansASoleSenderOfTwoBadPieces() {
        var download = downloader(pieces: 2)
        let all = Bitfield(count: 2, allSet: true)
        download.peerJoined(a, host: "10.0.0.1")
        _ = download.peerHas(a, pieces: all, amInterested: false)
        for piece in 0..<2 {
            _ = download.fill(a, view(pieces: all))
            _ = download.blockArrived(from: a, block(piece), bad)
            _ = download.blockArrived(from: a, block(piece, 16_384), bad)
            let actions = download.pieceHashed(PieceIndex(piece), ok: false)
            let banned = piece == 1 ? [DownloadAction.ban(host: "10.0.0.1")] : []
            #expect(actions == [.hashFailed(PieceIndex(piece), senders: ["10.0.0.1"])] + banned + [.refill])
        }
        #expect(download.hashFailures == 2 && download.downloadedBytes == 0)
        #expect(download.bannedHosts == ["10.0.0.1"])
    }

    // Smart ban: a piece made of two hosts' blocks fails; nobody is struck until a good copy
    // shows whose block differed. The liar is banned after two such pieces, the honest host never.
    @Test func smartBanFindsTheLiarAmongSenders() {
        var download = downloader(pieces: 2)
        download.peerJoined(a, host: "honest")
        download.peerJoined(b, host: "liar")
        var banned: [DownloadAction] = []
        func bans(_ actions: [DownloadAction]) -> [DownloadAction] {
            actions.filter { if case .ban = $0 { true } else { false } }
        }
        let all = Bitfield(count: 2, allSet: true)
        _ = download.peerHas(a, pieces: all, amInterested: true)
        _ = download.peerHas(b, pieces: all, amInterested: true)
        // Both are asked for every block (the liar in the endgame).
        #expect(requests(download.fill(a, view(pieces: all))).count == 4)
        #expect(requests(download.fill(b, view(pieces: all))).count == 4)
        for piece in 0..<2 {
            // The honest host sends the first block, the liar the second: the piece fails.
            _ = download.blockArrived(from: a, block(piece), data)
            _ = download.blockArrived(from: b, block(piece, 16_384), bad)
            #expect(bans(download.pieceHashed(PieceIndex(piece), ok: false)).isEmpty)
            // Fetched again, all from the honest host: it verifies, and the comparison finds the liar.
            let again = requests(download.fill(a, view(pieces: all)))
            #expect(again.contains(block(piece)) && again.contains(block(piece, 16_384)))
            _ = download.blockArrived(from: a, block(piece), data)
            _ = download.blockArrived(from: a, block(piece, 16_384), data)
            banned += bans(download.pieceHashed(PieceIndex(piece), ok: true))
        }
        #expect(banned == [.ban(host: "liar")])
        #expect(download.bannedHosts == ["liar"])
    }

    // A failed write pauses requesting; the piece stays in memory and is written again after the
    // retry interval; when that works, it counts and requesting resumes.
    @Test func failedWritePausesAndRetries() {
        var download = downloader(pieces: 2)
        let all = Bitfield(count: 2, allSet: true)
        download.peerJoined(a, host: "10.0.0.1")
        _ = download.peerHas(a, pieces: all, amInterested: false)
        _ = download.fill(a, view(pieces: all))
        _ = download.blockArrived(from: a, block(0), data)
        _ = download.blockArrived(from: a, block(0, 16_384), data)
        _ = download.pieceHashed(PieceIndex(0), ok: true)
        #expect(download.writeFailed(PieceIndex(0), reason: "disk full", now: start) == [.paused("disk full")])
        #expect(download.pausedReason == "disk full")
        #expect(download.fill(a, view(pieces: all)).isEmpty)
        #expect(download.tick(now: start + .seconds(5)).isEmpty)
        let bytes = Array(data) + Array(data)
        #expect(download.tick(now: start + .seconds(10)) == [.write(PieceIndex(0), bytes)])
        // Still failing: stays paused and tries again later.
        #expect(download.writeFailed(PieceIndex(0), reason: "disk full", now: start + .seconds(10)).isEmpty)
        #expect(download.tick(now: start + .seconds(15)).isEmpty)
        #expect(download.tick(now: start + .seconds(20)) == [.write(PieceIndex(0), bytes)])
        #expect(download.pieceWritten(PieceIndex(0)) == [.have(PieceIndex(0)), .resumed, .refill])
        #expect(download.pausedReason == nil)
        #expect(!requests(download.fill(a, view(pieces: all))).isEmpty)
    }
}

@Suite struct RateMeterTests {
    // A steady 1,000 bytes a second converges on 1,000; silence halves the rate each second.
    @Test func smoothsAndFades() {
        var meter = RateMeter()
        for _ in 0..<12 {
            meter.add(1_000)
            meter.sample()
        }
        #expect(meter.rate >= 995 && meter.rate <= 1_000)
        meter.sample()
        #expect(meter.rate == 499 || meter.rate == 500)
    }

    // Skipping pieces while downloading: a peer holding only skipped pieces is no longer
    // interesting; when every wanted piece is had the download is finished; wanting more again
    // makes the peer interesting and the download goes on.
    @Test func prioritiesChangeInterestAndFinish() {
        var download = downloader(pieces: 4, have: [0, 1])
        download.peerJoined(a, host: "10.0.0.1")
        var late = Bitfield(count: 4)
        late[PieceIndex(3)] = true
        #expect(download.peerHas(a, pieces: late, amInterested: false) == [.setInterested(a, true)])
        #expect(download.setPriorities([1, 1, 1, 0], peers: [(a, late, true)]) == [.setInterested(a, false), .refill])
        #expect(!download.isFinished)
        #expect(download.setPriorities([1, 1, 0, 0], peers: [(a, late, false)]) == [.finished])
        #expect(download.isFinished)
        #expect(download.setPriorities([1, 1, 0, 2], peers: [(a, late, false)]) == [.setInterested(a, true), .refill])
        let first = requests(download.fill(a, view(pieces: late)))
        #expect(first.allSatisfy { $0.piece == PieceIndex(3) } && !first.isEmpty)
    }
}
