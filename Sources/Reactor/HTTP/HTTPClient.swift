internal import CLibevent
internal import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP response, copied out of libevent.
public struct HTTPResponse: Sendable {
    /// The status code.
    public let status: Int
    /// Header fields in arrival order.
    public let headers: [(name: String, value: String)]
    /// The body.
    public let body: [UInt8]

    /// The first header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Why an HTTP request failed, in terms a user can act on.
public enum HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not an absolute http:// or https:// URL.
    case invalidURL(String)
    /// The connection could not be made or broke before a response (refused, reset, DNS failure).
    case connectionFailed(String)
    /// No complete response within the timeout.
    case timedOut
    /// The body or headers exceeded the cap.
    case responseTooLarge(limit: Int)
    /// TLS failed: the handshake, or the certificate did not verify.
    case tls(String)
    /// The response was not valid HTTP.
    case malformedResponse

    public var description: String {
        switch self {
        case .invalidURL(let url): return "invalid URL '\(url)'"
        case .connectionFailed(let detail): return "connection failed: \(detail)"
        case .timedOut: return "timed out"
        case .responseTooLarge(let limit): return "response larger than \(limit) bytes"
        case .tls(let detail): return "TLS error: \(detail)"
        case .malformedResponse: return "malformed HTTP response"
        }
    }
}

/// A request's received header fields, in order (evhttp keeps them in a TAILQ).
func inputHeaders(of request: OpaquePointer) -> [(name: String, value: String)] {
    var headers: [(name: String, value: String)] = []
    var entry = evhttp_request_get_input_headers(request)?.pointee.tqh_first
    while let field = entry {
        headers.append((String(cString: field.pointee.key), String(cString: field.pointee.value)))
        entry = field.pointee.next.tqe_next
    }
    return headers
}

private func requestDone(_ request: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<HTTPExchange>.fromOpaque(context!).takeUnretainedValue().finished(request)
}

private func requestFailed(_ error: evhttp_request_error, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<HTTPExchange>.fromOpaque(context!).takeUnretainedValue().failed(error)
}

/// Makes HTTP and HTTPS GET requests on the loop (evhttp over plain or OpenSSL bufferevents),
/// resolving names with evdns.
public final class HTTPClient {
    private unowned let loop: EventLoop
    private let dns: OpaquePointer
    private let givenTLS: TLSContext?
    /// The TLS context, made at the first HTTPS request: loading the system CA store took 40-60
    /// ms of every daemon start, most of an empty daemon's start-up, and many sessions never
    /// fetch over HTTPS.
    private lazy var tls: Result<TLSContext, TLSError> = {
        if let givenTLS { return .success(givenTLS) }
        do throws(TLSError) { return .success(try TLSContext()) } catch { return .failure(error) }
    }()
    private var exchanges: Set<ObjectIdentifier> = []
    /// The user agent sent with every request.
    public var userAgent = "evtorrent/0.1"
    /// The `Accept-Encoding` sent; the body comes back as sent (decoding is the caller's).
    public var acceptEncoding = "identity"

    /// A client on `loop`; HTTPS uses `tls` (system CA store if nil).
    public init(loop: EventLoop, tls: TLSContext? = nil) {
        self.loop = loop
        givenTLS = tls
        dns = evdns_base_new(loop.base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)!
    }

    deinit { evdns_base_free(dns, 0) }

    /// GETs `url`; `completion` runs on the loop exactly once.
    public func get(
        _ url: String, timeout: Duration = .seconds(30), maxResponseBytes: Int = 4 << 20,
        completion: @escaping (Result<HTTPResponse, HTTPError>) -> Void
    ) {
        guard let target = HTTPTarget(url) else {
            loop.schedule(after: .zero) { completion(.failure(.invalidURL(url))) }
            return
        }
        var ssl: OpaquePointer?
        if target.isHTTPS {
            let session: OpaquePointer?
            switch tls {
            case .success(let context): session = context.makeSession(host: target.host)
            case .failure(let error):
                loop.schedule(after: .zero) { completion(.failure(.tls("no TLS context: \(error)"))) }
                return
            }
            guard let session else {
                loop.schedule(after: .zero) { completion(.failure(.tls("no TLS session: \(TLSContext.drainErrors())"))) }
                return
            }
            ssl = session
        }
        let exchange = HTTPExchange(
            loop: loop, dns: dns, target: target, ssl: ssl, timeout: timeout, maxResponseBytes: maxResponseBytes,
            userAgent: userAgent, acceptEncoding: acceptEncoding
        ) { [weak self] exchange, result in
            self?.exchanges.remove(ObjectIdentifier(exchange))
            completion(result)
        }
        exchanges.insert(ObjectIdentifier(exchange))
        exchange.start()
    }
}

/// A parsed http(s) URL.
struct HTTPTarget {
    let isHTTPS: Bool
    let host: String
    let port: UInt16
    /// Path and query, as sent in the request line.
    let resource: String

    init?(_ url: String) {
        guard let uri = evhttp_uri_parse(url) else { return nil }
        defer { evhttp_uri_free(uri) }
        guard let schemeText = evhttp_uri_get_scheme(uri), let hostText = evhttp_uri_get_host(uri) else { return nil }
        let scheme = String(cString: schemeText).lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        isHTTPS = scheme == "https"
        host = String(cString: hostText)
        guard !host.isEmpty else { return nil }
        let port = evhttp_uri_get_port(uri)
        guard port <= 65535 else { return nil }
        self.port = port > 0 ? UInt16(port) : (isHTTPS ? 443 : 80)
        let path = evhttp_uri_get_path(uri).map { String(cString: $0) } ?? ""
        let query = evhttp_uri_get_query(uri).map { "?" + String(cString: $0) } ?? ""
        resource = (path.isEmpty ? "/" : path) + query
    }
}

/// One request in flight. Retains itself (via the client's callbacks) until it completes.
private final class HTTPExchange {
    private unowned let loop: EventLoop
    private let dns: OpaquePointer
    private let target: HTTPTarget
    private let ssl: OpaquePointer?
    private let timeout: Duration
    private let maxResponseBytes: Int
    private let userAgent: String
    private let acceptEncoding: String
    private var connection: OpaquePointer?
    private var completion: ((HTTPExchange, Result<HTTPResponse, HTTPError>) -> Void)?
    private var pendingError: HTTPError?
    private var timer: TimerHandle?
    private var selfReference: HTTPExchange?

    init(
        loop: EventLoop, dns: OpaquePointer, target: HTTPTarget, ssl: OpaquePointer?, timeout: Duration,
        maxResponseBytes: Int, userAgent: String, acceptEncoding: String,
        completion: @escaping (HTTPExchange, Result<HTTPResponse, HTTPError>) -> Void
    ) {
        self.loop = loop
        self.dns = dns
        self.target = target
        self.ssl = ssl
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.userAgent = userAgent
        self.acceptEncoding = acceptEncoding
        self.completion = completion
    }

    func start() {
        selfReference = self  // released in complete()
        let bev: OpaquePointer?
        let options = Int32(BEV_OPT_CLOSE_ON_FREE.rawValue | BEV_OPT_DEFER_CALLBACKS.rawValue)
        if let ssl {
            bev = bufferevent_openssl_socket_new(loop.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, options)
            if let bev { bufferevent_openssl_set_allow_dirty_shutdown(bev, 1) }
        } else {
            bev = bufferevent_socket_new(loop.base, -1, options)
        }
        // evhttp takes ownership of the bufferevent (and through it the SSL object).
        guard let bev, let connection = evhttp_connection_base_bufferevent_new(loop.base, dns, bev, target.host, target.port)
        else {
            complete(.failure(.connectionFailed("cannot create connection")))
            return
        }
        self.connection = connection
        var time = timeval(duration: timeout)
        evhttp_connection_set_timeout_tv(connection, &time)
        evhttp_connection_set_retries(connection, 0)
        evhttp_connection_set_max_body_size(connection, maxResponseBytes)
        evhttp_connection_set_max_headers_size(connection, 64 << 10)
        // The exchange holds itself (selfReference) until complete(), so the request holds no retain.
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let request = evhttp_request_new(requestDone, context) else {
            complete(.failure(.connectionFailed("cannot create request")))
            return
        }
        evhttp_request_set_error_cb(request, requestFailed)
        let headers = evhttp_request_get_output_headers(request)
        let hostHeader = target.port == (target.isHTTPS ? 443 : 80) ? target.host : "\(target.host):\(target.port)"
        evhttp_add_header(headers, "Host", hostHeader)
        evhttp_add_header(headers, "User-Agent", userAgent)
        evhttp_add_header(headers, "Connection", "close")
        evhttp_add_header(headers, "Accept-Encoding", acceptEncoding)
        if evhttp_make_request(connection, request, EVHTTP_REQ_GET, target.resource) != 0 {
            complete(.failure(.connectionFailed("cannot send request")))
            return
        }
        // evhttp's own timeout covers each phase; this one bounds the whole exchange.
        timer = loop.schedule(after: timeout + .milliseconds(500)) { [weak self] in
            self?.complete(.failure(.timedOut))
        }
    }

    /// evhttp reports the error kind first, then calls the done callback with a nil/failed request.
    func failed(_ error: evhttp_request_error) {
        switch error {
        case EVREQ_HTTP_TIMEOUT: pendingError = .timedOut
        case EVREQ_HTTP_DATA_TOO_LONG: pendingError = .responseTooLarge(limit: maxResponseBytes)
        case EVREQ_HTTP_INVALID_HEADER: pendingError = .malformedResponse
        default: pendingError = tlsFailure().map(HTTPError.tls) ?? .connectionFailed(connectionErrorText(error))
        }
    }

    func finished(_ request: OpaquePointer?) {
        guard let request, evhttp_request_get_response_code(request) > 0 else {
            complete(.failure(pendingError ?? tlsFailure().map(HTTPError.tls) ?? .connectionFailed("no response")))
            return
        }
        let status = Int(evhttp_request_get_response_code(request))
        let headers = inputHeaders(of: request)
        // evhttp frees the request after this callback: copy the body out now (LIBEVENT-NOTES §2).
        let buffer = evhttp_request_get_input_buffer(request)
        let length = evbuffer_get_length(buffer)
        var body = [UInt8](repeating: 0, count: length)
        _ = body.withUnsafeMutableBytes { evbuffer_copyout(buffer, $0.baseAddress, length) }
        complete(.success(HTTPResponse(status: status, headers: headers, body: body)))
    }

    private func tlsFailure() -> String? {
        guard let ssl, let connection, let bev = evhttp_connection_get_bufferevent(connection) else { return nil }
        if let verify = TLSContext.verifyFailure(ssl) { return "certificate verify failed: \(verify)" }
        var messages: [String] = []
        while true {
            let code = bufferevent_get_openssl_error(bev)
            if code == 0 { break }
            messages.append(TLSContext.errorText(code))
        }
        return messages.isEmpty ? nil : messages.joined(separator: "; ")
    }

    private func connectionErrorText(_ error: evhttp_request_error) -> String {
        let code = errno
        switch error {
        case EVREQ_HTTP_EOF: return "connection closed before a complete response"
        case EVREQ_HTTP_REQUEST_CANCEL: return "request cancelled"
        default: return code != 0 ? String(cString: strerror(code)) : "network error"
        }
    }

    private func complete(_ result: Result<HTTPResponse, HTTPError>) {
        guard let completion else { return }
        self.completion = nil
        timer?.cancel()
        timer = nil
        let connection = self.connection
        self.connection = nil
        // Freeing the connection inside its own callback is unsafe; do it on the next loop turn.
        if let connection { loop.schedule(after: .zero) { evhttp_connection_free(connection) } }
        completion(self, result)
        selfReference = nil
    }
}
