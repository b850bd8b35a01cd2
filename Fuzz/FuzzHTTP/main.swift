import Reactor

// Properties, for any bytes a client sends the HTTP server: the parser never crashes; it says
// incomplete, refuses with a status the server knows, or gives a head no longer than its input
// and its limit, whose body length is within the limit; and a prefix of a whole head is never
// taken for a different whole head (parsing is decided by the bytes seen, not by chance).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let maxHead = 4096, maxBody = 1 << 16
    do {
        switch try HTTPRequestHead.parse(bytes, maxHeadBytes: maxHead, maxBodyBytes: maxBody) {
        case .incomplete:
            precondition(bytes.count <= maxHead + 4, "incomplete past the head limit")
        case .head(let head):
            precondition(head.length <= bytes.count && head.length <= maxHead, "head longer than input or limit")
            precondition(head.contentLength >= 0 && head.contentLength <= maxBody, "body length out of bounds")
            precondition(HTTPRequestHead.methods.contains(head.method) && head.path.hasPrefix("/") || head.path == "*", "bad method or path")
            // The same head followed by anything parses to the same head.
            let again = try HTTPRequestHead.parse(bytes[..<head.length] + [0x47, 0x45], maxHeadBytes: maxHead, maxBodyBytes: maxBody)
            precondition(again == .head(head), "trailing bytes changed the head")
        }
    } catch {
        precondition([400, 405, 413, 414, 431, 501, 505].contains(error.status), "unknown status \(error.status)")
    }
    return 0
}
