import Testing
import TorrentCore

@testable import Daemon

@Suite struct ReplyCompressionTests {
    // What browsers and curl send admits gzip; an explicit q=0 or another coding does not.
    @Test func readsAcceptEncoding() {
        #expect(ReplyCompression.acceptsGzip("gzip, deflate, br"))
        #expect(ReplyCompression.acceptsGzip("deflate, gzip"))
        #expect(ReplyCompression.acceptsGzip("*"))
        #expect(ReplyCompression.acceptsGzip("GZIP;q=0.5"))
        #expect(!ReplyCompression.acceptsGzip("gzip;q=0"))
        #expect(!ReplyCompression.acceptsGzip("gzip; q=0.0, identity"))
        #expect(!ReplyCompression.acceptsGzip("deflate, br"))
        #expect(!ReplyCompression.acceptsGzip(nil))
    }

    // A listing gzipped by zlib comes back whole through TorrentCore's own inflater, much smaller.
    @Test func gzipsAListing() throws {
        var reply = Array(#"{"arguments":{"torrents":["#.utf8)
        for id in 0..<2000 { reply += Array(#"{"id":\#(id),"name":"torrent \#(id)","percentDone":1,"status":6},"#.utf8) }
        reply += Array("{}]}}".utf8)
        let compressed = try #require(ReplyCompression.gzip(reply))
        #expect(compressed.count * 5 < reply.count)
        #expect(try Gzip.decompress(compressed, limit: 1 << 24) == reply)
    }
}
