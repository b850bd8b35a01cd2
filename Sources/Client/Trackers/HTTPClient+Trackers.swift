import Reactor
import TorrentCore

extension HTTPResponse {
    /// The body a tracker meant: gunzipped if it says `Content-Encoding: gzip` (or starts with
    /// gzip's magic bytes, as some trackers send without saying), capped at `limit` bytes.
    func trackerBody(limit: Int = 4 << 20) throws(InflateError) -> [UInt8] {
        let encoding = header("Content-Encoding")?.lowercased()
        if encoding == "gzip" || encoding == "x-gzip" || (body.count > 2 && body[0] == 0x1F && body[1] == 0x8B) {
            return try Gzip.decompress(body, limit: limit)
        }
        return body
    }
}

extension HTTPClient {
    /// A client for trackers: asks for gzip (decoded by `HTTPResponse.trackerBody`).
    public static func forTrackers(loop: EventLoop, tls: TLSContext? = nil) -> HTTPClient {
        let client = HTTPClient(loop: loop, tls: tls)
        client.acceptEncoding = "gzip"
        return client
    }
}
