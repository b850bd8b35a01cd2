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

/// One request's answer, which may come later (after a fetch, a disk operation): `respond` once.
/// The connection reads nothing while an answer is pending; an answer after the client left or
/// the server closed is dropped.
public final class HTTPResponder {
    private weak var exchange: HTTPExchange?
    private let request: Int

    fileprivate init(exchange: HTTPExchange, request: Int) {
        self.exchange = exchange
        self.request = request
    }

    /// Whether an answer would still be sent (not answered yet, the client and server still there).
    public var isOpen: Bool { exchange?.awaits(request) == true }

    /// Sends `response` (once; later calls, and calls after the server closed, do nothing).
    public func respond(_ response: HTTPServerResponse) {
        exchange?.answer(request, with: response)
    }
}

@available(*, unavailable)
extension HTTPResponder: Sendable {}

/// Limits that keep an HTTP server from being held open or filled by slow or greedy clients
/// (the embedded tracker faces the internet; the daemon's RPC must answer while it does).
public struct HTTPServerLimits: Sendable {
    /// The longest request head.
    public var maxHeadBytes = 16 << 10
    /// The longest body.
    public var maxBodyBytes = 1 << 20
    /// A request must arrive whole this long after its first byte (and a new connection must
    /// send one within it); a body gets one more second per 64 KiB. A client sending a byte now
    /// and then is closed when it runs out.
    public var requestTimeout: Duration = .seconds(10)
    /// A kept-alive connection with no request for this long is closed.
    public var idleTimeout: Duration = .seconds(30)
    /// Connections at once, in all (the rest are closed as they arrive, leaving descriptors for
    /// peers).
    public var maxConnections = 256
    /// Connections at once from one address.
    public var maxConnectionsPerAddress = 16

    /// The defaults, with the sizes given.
    public init(maxHeadBytes: Int = 16 << 10, maxBodyBytes: Int = 1 << 20) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// An HTTP/1.1 server on the loop, on the reactor's own listener and connections: the embedded
/// tracker and the daemon's RPC. A handler answers through an `HTTPResponder`, at once or later
/// (the loop never waits for it). Requests are parsed by `HTTPRequestHead` (strict, bounded),
/// arrive whole within `requestTimeout` or the connection is closed, idle keep-alive connections
/// are closed after `idleTimeout`, and connections are capped in total and per address — what
/// libevent 2.1's evhttp, used before, could not do (a client sending one byte every 5 s held a
/// connection for ever).
public final class HTTPServer {
    private var listener: Listener?
    private let loop: EventLoop
    private let handler: (HTTPRequest, HTTPResponder) -> Void
    let limits: HTTPServerLimits
    private var exchanges: [ObjectIdentifier: HTTPExchange] = [:]
    private var perAddress: [String: Int] = [:]
    private var sweep: TimerHandle?
    /// The address bound (with the real port if 0 was asked for).
    public let localAddress: SocketAddress
    /// Connections closed for being too slow or idle, and refused for a cap, so far.
    public private(set) var closedForTime = 0
    public private(set) var refused = 0

    /// Listens on `address`; every request is answered at once by `handler`.
    public convenience init(
        loop: EventLoop, address: SocketAddress, limits: HTTPServerLimits = HTTPServerLimits(),
        handler: @escaping (HTTPRequest) -> HTTPServerResponse
    ) throws(SystemError) {
        try self.init(loop: loop, address: address, limits: limits, responder: { request, responder in responder.respond(handler(request)) })
    }

    /// Listens on `address`; every request goes to `responder` with the means to answer it later.
    public init(
        loop: EventLoop, address: SocketAddress, limits: HTTPServerLimits = HTTPServerLimits(),
        responder: @escaping (HTTPRequest, HTTPResponder) -> Void
    ) throws(SystemError) {
        self.loop = loop
        self.handler = responder
        self.limits = limits
        // The listener asks `admit` through a box filled once self is whole.
        let box = WeakBox<HTTPServer>()
        let listener = try loop.listen(on: address, backlog: 128) { connection in box.value?.admit(connection) }
        self.listener = listener
        localAddress = listener.localAddress
        box.value = self
        sweep = loop.scheduleRepeating(every: .seconds(1)) { [weak self] in self?.closeLate() }
    }

    deinit { close() }

    /// Whether it still listens.
    public var isOpen: Bool { listener != nil }

    /// How many client connections are open.
    public var connectionCount: Int { exchanges.count }

    /// Stops listening and drops open client connections (and requests awaiting an answer).
    public func close() {
        listener?.close()
        listener = nil
        sweep?.cancel()
        sweep = nil
        let open = exchanges.values
        exchanges.removeAll()
        perAddress.removeAll()
        for exchange in open { exchange.close() }
    }

    private func admit(_ connection: any Connection) -> (any ConnectionHandler)? {
        let host = connection.remoteAddress.host
        guard isOpen, exchanges.count < limits.maxConnections, perAddress[host, default: 0] < limits.maxConnectionsPerAddress else {
            refused += 1
            return nil
        }
        let exchange = HTTPExchange(server: self, connection: connection, deadline: loop.now + limits.requestTimeout)
        exchanges[ObjectIdentifier(exchange)] = exchange
        perAddress[host, default: 0] += 1
        return exchange
    }

    fileprivate func closed(_ exchange: HTTPExchange, host: String) {
        guard exchanges.removeValue(forKey: ObjectIdentifier(exchange)) != nil else { return }
        if let count = perAddress[host], count > 1 { perAddress[host] = count - 1 } else { perAddress.removeValue(forKey: host) }
    }

    fileprivate var now: ContinuousClock.Instant { loop.now }

    fileprivate func dispatch(_ request: HTTPRequest, _ responder: HTTPResponder) { handler(request, responder) }

    /// Closes every connection past its deadline.
    private func closeLate() {
        let now = loop.now
        for exchange in exchanges.values {
            guard let deadline = exchange.deadline, deadline <= now else { continue }
            closedForTime += 1
            exchange.close()
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}

private final class WeakBox<Value: AnyObject> {
    weak var value: Value?
}

/// One client connection of an `HTTPServer`: reads a request head and body, hands the request
/// over with reading paused, writes the answer, and reads the next one if kept alive.
private final class HTTPExchange: ConnectionHandler {
    private enum Phase {
        case head
        case body(HTTPRequestHead, [UInt8])
        case answering(HTTPRequestHead)
        case closed
    }

    /// Weak: a server closing in its deinit closes its connections, which tell it so.
    private weak var server: HTTPServer?
    private var connection: (any Connection)?
    private let host: String
    private var phase = Phase.head
    private var requests = 0
    /// When the connection is closed unless the awaited bytes arrive; nil while a handler answers.
    private(set) var deadline: ContinuousClock.Instant?
    /// Whether the deadline counts for a request under way (not idle between requests).
    private var requestStarted = false

    init(server: HTTPServer, connection: any Connection, deadline: ContinuousClock.Instant) {
        self.server = server
        self.connection = connection
        host = connection.remoteAddress.host
        self.deadline = deadline
        requestStarted = true
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        while input.count > 0 {
            switch phase {
            case .head:
                guard let server else { return }
                if !requestStarted {
                    requestStarted = true
                    deadline = server.now + server.limits.requestTimeout
                }
                let limits = server.limits
                let outcome: HTTPRequestHead.Outcome
                do {
                    outcome = try HTTPRequestHead.parse(input.peek(min(input.count, limits.maxHeadBytes + 4))!, maxHeadBytes: limits.maxHeadBytes, maxBodyBytes: limits.maxBodyBytes)
                } catch {
                    return refuse(error)
                }
                guard case .head(let head) = outcome else { return }
                input.drain(head.length)
                if head.contentLength > 0 {
                    // A body gets a second more per 64 KiB.
                    deadline = server.now + limits.requestTimeout + .seconds(head.contentLength >> 16)
                    if head.expectsContinue && input.count < head.contentLength { connection.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
                }
                phase = .body(head, [])
                if head.contentLength == 0 { dispatch(head, []) }
            case .body(let head, var body):
                phase = .closed  // no second reference to `body` while it grows
                let take = min(head.contentLength - body.count, input.count)
                body += input.read(take)!
                phase = .body(head, body)
                if body.count == head.contentLength { dispatch(head, body) }
            case .answering, .closed:
                return
            }
        }
    }

    private func dispatch(_ head: HTTPRequestHead, _ body: [UInt8]) {
        guard let connection, let server else { return }
        phase = .answering(head)
        deadline = nil
        connection.pauseReading()
        requests += 1
        let request = HTTPRequest(
            method: head.method, path: head.path, query: head.query, headers: head.headers.map { ($0.name, $0.value) }, body: body,
            remoteAddress: connection.remoteAddress)
        server.dispatch(request, HTTPResponder(exchange: self, request: requests))
    }

    func awaits(_ request: Int) -> Bool {
        guard case .answering = phase, request == requests, server?.isOpen == true else { return false }
        return connection?.isOpen == true
    }

    func answer(_ request: Int, with response: HTTPServerResponse) {
        guard awaits(request), case .answering(let head) = phase, let connection else { return }
        connection.write(Self.encode(response, head: head, keepAlive: head.keepAlive))
        guard head.keepAlive else {
            phase = .closed
            return connection.close(flushingOutput: true)
        }
        phase = .head
        requestStarted = false
        deadline = server.map { $0.now + $0.limits.idleTimeout }
        connection.resumeReading()
    }

    /// A request that cannot be served: its status, then the connection closes.
    private func refuse(_ refusal: HTTPRequestHead.Refusal) {
        guard let connection else { return }
        phase = .closed
        let response = HTTPServerResponse(status: refusal.status, body: Array((refusal.reason + "\n").utf8))
        connection.write(Self.encode(response, head: nil, keepAlive: false))
        connection.close(flushingOutput: true)
    }

    func close() {
        phase = .closed
        connection?.close()
    }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) {
        phase = .closed
        self.connection = nil
        server?.closed(self, host: host)
    }

    /// Status line, the response's headers (Content-Type text/plain unless given), Content-Length,
    /// `Connection: close` when closing, and the body (not for HEAD).
    static func encode(_ response: HTTPServerResponse, head: HTTPRequestHead?, keepAlive: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(response.status) \(HTTPServer.reason(response.status))\r\n"
        var typed = false
        for (name, value) in response.headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "connection" { continue }
            if lower == "content-type" { typed = true }
            text += "\(name): \(value)\r\n"
        }
        if !typed { text += "Content-Type: text/plain\r\n" }
        text += "Content-Length: \(response.body.count)\r\n"
        if !keepAlive { text += "Connection: close\r\n" }
        text += "\r\n"
        var bytes = Array(text.utf8)
        if head?.method != "HEAD" { bytes += response.body }
        return bytes
    }
}
