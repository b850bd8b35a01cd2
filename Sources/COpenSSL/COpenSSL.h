#ifndef EVTORRENT_COPENSSL_H
#define EVTORRENT_COPENSSL_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/bn.h>
#include <openssl/rand.h>

/// SHA-1 and SHA-256 through OpenSSL's direct functions (deprecated in 3.0, kept for this). The EVP
/// path loads the default provider at its first use, which maps 2 MB more of libcrypto into a
/// daemon that only needed info hashes; these run the same assembly without it.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/sha.h>

/// Bytes of state either algorithm needs.
static inline size_t evtorrent_digest_state_size(void) {
    return sizeof(SHA256_CTX) > sizeof(SHA_CTX) ? sizeof(SHA256_CTX) : sizeof(SHA_CTX);
}
static inline void evtorrent_digest_init(int sha256, void *state) {
    if (sha256) SHA256_Init((SHA256_CTX *)state); else SHA1_Init((SHA_CTX *)state);
}
static inline void evtorrent_digest_update(int sha256, void *state, const void *bytes, size_t count) {
    if (sha256) SHA256_Update((SHA256_CTX *)state, bytes, count); else SHA1_Update((SHA_CTX *)state, bytes, count);
}
/// Writes the digest (20 or 32 bytes) to `out`; the state must be initialised again before reuse.
static inline void evtorrent_digest_final(int sha256, void *state, unsigned char *out) {
    if (sha256) SHA256_Final(out, (SHA256_CTX *)state); else SHA1_Final(out, (SHA_CTX *)state);
}
#pragma clang diagnostic pop

#include "SHA1Pair.h"

/// SSL_set_tlsext_host_name is a macro Swift cannot call: send SNI for `name`.
static inline int evtorrent_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

#endif
