import CompressNIO
import NIOCore

/// gzip for RPC replies a client accepts compressed (the web client's browser, curl in
/// transmission-remote): a 10,000-torrent listing shrinks about tenfold for a remote web UI.
/// zlib through compress-nio; run on a worker, never on the loop.
enum ReplyCompression {
    /// Replies smaller than this go as they are (compressing them saves nothing worth the time).
    static let minimumBytes = 1024

    /// Whether an `Accept-Encoding` header admits gzip (`gzip`, `x-gzip` or `*`, not with q=0).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.lowercased().split(separator: ",") {
            // "gzip;q=0.5" -> ["gzip", "q=0.5"], spaces dropped.
            let parts = item.split(separator: ";").map { String($0.filter { $0 != " " && $0 != "\t" }) }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let refused = parts.dropFirst().contains { $0 == "q=0" || $0 == "q=0.0" || $0 == "q=0.00" || $0 == "q=0.000" }
            if !refused { return true }
        }
        return false
    }

    /// `bytes` gzipped (fast level: the reply is on its way to a waiting client), nil if zlib fails.
    static func gzip(_ bytes: [UInt8]) -> [UInt8]? {
        var input = ByteBuffer(bytes: bytes)
        var configuration = ZlibConfiguration()
        configuration.compressionLevel = 1
        guard let output = try? input.compress(with: .gzip(configuration: configuration)) else { return nil }
        return Array(output.readableBytesView)
    }
}
