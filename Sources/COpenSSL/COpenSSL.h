#ifndef EVTORRENT_COPENSSL_H
#define EVTORRENT_COPENSSL_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#endif
