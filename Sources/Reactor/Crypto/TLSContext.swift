internal import COpenSSL

/// Client-side TLS settings (one OpenSSL `SSL_CTX`): the system CA store, or a given CA file,
/// and peer verification always on.
public final class TLSContext: @unchecked Sendable {
    // The SSL_CTX is configured once in init and only read afterwards; OpenSSL allows sharing it.
    let context: OpaquePointer

    /// Verifies servers against `caFile` if given, else the system CA store (which honours
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`).
    public init(caFile: String? = nil) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSError(TLSContext.drainErrors()) }
        self.context = context
        let loaded =
            caFile.map { SSL_CTX_load_verify_locations(context, $0, nil) } ?? SSL_CTX_set_default_verify_paths(context)
        guard loaded == 1 else {
            throw TLSError("cannot load CA certificates\(caFile.map { " from \($0)" } ?? ""): \(TLSContext.drainErrors())")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
    }

    deinit { SSL_CTX_free(context) }

    /// A new SSL object that verifies the server is `host` (a DNS name, or an IP literal, which gets
    /// no SNI and is matched against the certificate's IP addresses).
    func makeSession(host: String) -> OpaquePointer? {
        guard let ssl = SSL_new(context) else { return nil }
        let parameters = SSL_get0_param(ssl)
        if SocketAddress(host: host, port: 0) != nil {
            X509_VERIFY_PARAM_set1_ip_asc(parameters, host)
        } else {
            X509_VERIFY_PARAM_set1_host(parameters, host, 0)
            _ = evtorrent_ssl_set_sni(ssl, host)
        }
        return ssl
    }

    /// The text of OpenSSL's queued errors, emptying the queue.
    static func drainErrors() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            messages.append(errorText(code))
        }
        return messages.isEmpty ? "unknown TLS error" : messages.joined(separator: "; ")
    }

    static func errorText(_ code: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The verification result of a finished or failed handshake, in words, or nil if it passed.
    static func verifyFailure(_ ssl: OpaquePointer) -> String? {
        let result = SSL_get_verify_result(ssl)
        guard result != X509_V_OK else { return nil }
        return String(cString: X509_verify_cert_error_string(result))
    }
}

/// A TLS set-up or handshake failure, in OpenSSL's words.
public struct TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
