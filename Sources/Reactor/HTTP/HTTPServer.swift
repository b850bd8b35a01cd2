internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

/// A request the HTTP server received, copied out of libevent.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, ...
    public let method: String
    /// The path, still percent-encoded.
    public let path: String
    /// The raw query string after `?` (percent-encoded), or empty.
    public let query: String
    /// Header fields in arrival order.
    public let headers: [(name: String, value: String)]
    /// The body (empty for GET).
    public let body: [UInt8]
    /// The client's address.
    public let remoteAddress: SocketAddress?

    /// The first header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// What the server sends back.
public struct HTTPServerResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Extra header fields.
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: [UInt8]

    /// A response with `status`, `body` and optional headers.
    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

private func requestArrived(_ request: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let request else { return }
    Unmanaged<HTTPServer>.fromOpaque(context!).takeUnretainedValue().handle(request)
}

/// One request's answer, which may come later (after a fetch, a disk operation): `respond` once.
/// A client that left meanwhile is noticed by libevent when the answer is written (it reads
/// nothing while a reply is pending) and the request is freed then; an answer after the server
/// closed is dropped (closing freed the request).
public final class HTTPResponder {
    private var request: OpaquePointer?
    private weak var server: HTTPServer?

    fileprivate init(request: OpaquePointer, server: HTTPServer) {
        self.request = request
        self.server = server
    }

    /// Whether an answer would still be sent (not answered yet, and the server still open).
    public var isOpen: Bool { request != nil && server?.isOpen == true }

    /// Sends `response` (once; later calls, and calls after the server closed, do nothing).
    public func respond(_ response: HTTPServerResponse) {
        guard let request, server?.isOpen == true else { return }
        self.request = nil
        HTTPServer.send(response, to: request)
    }
}

@available(*, unavailable)
extension HTTPResponder: Sendable {}

/// An HTTP server on the loop (evhttp): the embedded tracker and the daemon's RPC. A handler
/// answers through an `HTTPResponder`, at once or later (the loop never waits for it); sizes and
/// time are capped for hostile clients.
public final class HTTPServer {
    private var http: OpaquePointer?
    private let handler: (HTTPRequest, HTTPResponder) -> Void
    /// The address bound (with the real port if 0 was asked for).
    public let localAddress: SocketAddress

    /// Listens on `address`; every request is answered at once by `handler`.
    public convenience init(
        loop: EventLoop, address: SocketAddress, maxHeaderBytes: Int = 16 << 10, maxBodyBytes: Int = 1 << 20,
        timeout: Duration = .seconds(30), handler: @escaping (HTTPRequest) -> HTTPServerResponse
    ) throws(SystemError) {
        try self.init(
            loop: loop, address: address, maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes, timeout: timeout,
            responder: { request, responder in responder.respond(handler(request)) })
    }

    /// Listens on `address`; every request goes to `responder` with the means to answer it later.
    public init(
        loop: EventLoop, address: SocketAddress, maxHeaderBytes: Int = 16 << 10, maxBodyBytes: Int = 1 << 20,
        timeout: Duration = .seconds(30), responder: @escaping (HTTPRequest, HTTPResponder) -> Void
    ) throws(SystemError) {
        guard let http = evhttp_new(loop.base) else { throw SystemError(errno: errno, operation: "evhttp_new") }
        self.handler = responder
        guard let socket = evhttp_bind_socket_with_handle(http, address.host, address.port) else {
            let error = errno
            evhttp_free(http)
            throw SystemError(errno: error, operation: "listen on \(address)")
        }
        self.http = http
        localAddress = SocketAddress.local(of: evhttp_bound_socket_get_fd(socket)) ?? address
        evhttp_set_max_headers_size(http, maxHeaderBytes)
        evhttp_set_max_body_size(http, maxBodyBytes)
        var time = timeval(duration: timeout)
        evhttp_set_timeout_tv(http, &time)
        evhttp_set_allowed_methods(http, UInt16(EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_HEAD.rawValue | EVHTTP_REQ_POST.rawValue))
        // The server frees the evhttp in deinit/close, so the callback holds no retain.
        evhttp_set_gencb(http, requestArrived, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { close() }

    /// Whether it still listens.
    public var isOpen: Bool { http != nil }

    /// Stops listening and drops open client connections (and requests awaiting an answer).
    public func close() {
        if let http { evhttp_free(http) }
        http = nil
    }

    fileprivate func handle(_ request: OpaquePointer) {
        handler(Self.copy(request), HTTPResponder(request: request, server: self))
    }

    fileprivate static func send(_ response: HTTPServerResponse, to request: OpaquePointer) {
        let headers = evhttp_request_get_output_headers(request)
        for (name, value) in response.headers { evhttp_add_header(headers, name, value) }
        if response.headers.first(where: { $0.name.lowercased() == "content-type" }) == nil {
            evhttp_add_header(headers, "Content-Type", "text/plain")
        }
        let body = evbuffer_new()!
        defer { evbuffer_free(body) }
        response.body.withUnsafeBytes { _ = evbuffer_add(body, $0.baseAddress, $0.count) }
        evhttp_send_reply(request, Int32(response.status), Self.reason(response.status), body)
    }

    private static func copy(_ request: OpaquePointer) -> HTTPRequest {
        let uri = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "/"
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let headers = inputHeaders(of: request)
        let input = evhttp_request_get_input_buffer(request)
        let length = evbuffer_get_length(input)
        var body = [UInt8](repeating: 0, count: length)
        _ = body.withUnsafeMutableBytes { evbuffer_copyout(input, $0.baseAddress, length) }
        var remote: SocketAddress?
        if let connection = evhttp_request_get_connection(request), let address = evhttp_connection_get_addr(connection) {
            remote = SocketAddress(address)
        }
        return HTTPRequest(
            method: methodName(evhttp_request_get_command(request)), path: String(parts[0]),
            query: parts.count > 1 ? String(parts[1]) : "", headers: headers, body: body, remoteAddress: remote)
    }

    private static func methodName(_ command: evhttp_cmd_type) -> String {
        switch command {
        case EVHTTP_REQ_GET: return "GET"
        case EVHTTP_REQ_POST: return "POST"
        case EVHTTP_REQ_HEAD: return "HEAD"
        default: return "OTHER"
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 500: return "Internal Server Error"
        default: return "Status"
        }
    }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}
