#ifndef EVTORRENT_COPENSSL_H
#define EVTORRENT_COPENSSL_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/bn.h>
#include <openssl/rand.h>

/// SSL_set_tlsext_host_name is a macro Swift cannot call: send SNI for `name`.
static inline int evtorrent_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

#endif
