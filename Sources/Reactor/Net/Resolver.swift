internal import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

private func addressesResolved(_ result: Int32, _ list: UnsafeMutablePointer<addrinfo>?, _ context: UnsafeMutableRawPointer?) {
    Unmanaged<Lookup>.fromOpaque(context!).takeRetainedValue().resolved(result: result, list: list)
}

/// Why a name did not resolve.
public struct ResolveError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name asked for.
    public let host: String
    /// The resolver's words.
    public let reason: String
    public var description: String { "cannot resolve \(host): \(reason)" }
}

/// Asynchronous DNS (evdns) for tracker and peer host names; numeric addresses and /etc/hosts
/// entries answer without a query.
public final class Resolver {
    private unowned let loop: EventLoop
    private let dns: OpaquePointer

    /// A resolver using the system's name servers.
    public init(loop: EventLoop) {
        self.loop = loop
        dns = evdns_base_new(loop.base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)!
    }

    deinit { evdns_base_free(dns, 0) }

    /// Looks up `host`; `completion` runs on the loop, always after this call returns (evdns may
    /// answer synchronously, which LIBEVENT-NOTES §4 warns can lose a loop break).
    public func resolve(
        _ host: String, port: UInt16, completion: @escaping (Result<[SocketAddress], ResolveError>) -> Void
    ) {
        // An address literal needs no lookup (and AI_ADDRCONFIG would refuse "::1" on a host
        // whose only IPv6 address is loopback).
        if let literal = SocketAddress(host: host, port: port) {
            loop.schedule(after: .zero) { completion(.success([literal])) }
            return
        }
        let lookup = Lookup(loop: loop, host: host, completion: completion)
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = EVUTIL_AI_ADDRCONFIG
        // The lookup's retain is taken here and released by the callback (which always runs once).
        let context = Unmanaged.passRetained(lookup).toOpaque()
        _ = evdns_getaddrinfo(dns, host, String(port), &hints, addressesResolved, context)
    }
}

/// One lookup in flight; hands its answer to the loop on a fresh turn.
private final class Lookup {
    private unowned let loop: EventLoop
    private let host: String
    private let completion: (Result<[SocketAddress], ResolveError>) -> Void

    init(loop: EventLoop, host: String, completion: @escaping (Result<[SocketAddress], ResolveError>) -> Void) {
        self.loop = loop
        self.host = host
        self.completion = completion
    }

    func resolved(result: Int32, list: UnsafeMutablePointer<addrinfo>?) {
        let outcome: Result<[SocketAddress], ResolveError>
        if result == 0 {
            var addresses: [SocketAddress] = []
            var entry = list
            while let current = entry {
                if let raw = current.pointee.ai_addr, let address = SocketAddress(raw), !addresses.contains(address) {
                    addresses.append(address)
                }
                entry = current.pointee.ai_next
            }
            if let list { evutil_freeaddrinfo(list) }
            outcome = .success(addresses)
        } else {
            outcome = .failure(ResolveError(host: host, reason: String(cString: evutil_gai_strerror(result))))
        }
        let completion = self.completion
        loop.schedule(after: .zero) { completion(outcome) }
    }
}
