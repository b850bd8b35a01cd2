#ifndef EVTORRENT_SHA1PAIR_H
#define EVTORRENT_SHA1PAIR_H

/// Two SHA-1 digests at once, for a recheck's two pieces of equal length: the SHA-NI rounds of one
/// stream wait on each other, and a second stream's rounds fill those waits. On this project's
/// machine (AMD EPYC) one stream, OpenSSL's or this one, hashes 2.07 GB/s a core and two
/// interleaved 3.6 GB/s (Benchmarks/RESULTS.md). Without SHA-NI, OpenSSL hashes both in turn.

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/sha.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

/// Whether this CPU has the SHA extensions (CPUID leaf 7, EBX bit 29) and SSE4.1. Asked once;
/// lanes asking at the same time store the same answer (relaxed atomics, no data race).
static inline int evtorrent_sha1_pair_accelerated(void) {
    static int known = -1;
    int answer = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (answer < 0) {
        unsigned a, b, c, d;
        int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
        int sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19));
        answer = sha && sse41;
        __atomic_store_n(&known, answer, __ATOMIC_RELAXED);
    }
    return answer;
}

// Four rounds, group g (0...19) of one stream: W is the ring of four message-schedule vectors.
// Group g uses W[g % 4]; the schedule for later groups is advanced with msg1, xor and msg2.
#define EVTORRENT_SHA1_GROUP(g, ABCD, E0, E1, W) do { \
    if ((g) == 0) { E0 = _mm_add_epi32(E0, W[0]); E1 = ABCD; } \
    else if ((g) % 2 == 0) { E0 = _mm_sha1nexte_epu32(E0, W[(g) % 4]); E1 = ABCD; } \
    else { E1 = _mm_sha1nexte_epu32(E1, W[(g) % 4]); E0 = ABCD; } \
    if ((g) >= 3 && (g) <= 18) W[((g) + 1) % 4] = _mm_sha1msg2_epu32(W[((g) + 1) % 4], W[(g) % 4]); \
    ABCD = _mm_sha1rnds4_epu32(ABCD, (g) % 2 == 0 ? E0 : E1, (g) / 5); \
    if ((g) >= 1 && (g) <= 16) W[((g) + 3) % 4] = _mm_sha1msg1_epu32(W[((g) + 3) % 4], W[(g) % 4]); \
    if ((g) >= 2 && (g) <= 17) W[((g) + 2) % 4] = _mm_xor_si128(W[((g) + 2) % 4], W[(g) % 4]); \
} while (0)
#define EVTORRENT_SHA1_BOTH(g) do { \
    EVTORRENT_SHA1_GROUP(g, A0, E00, E01, W0); EVTORRENT_SHA1_GROUP(g, A1, E10, E11, W1); } while (0)

/// Runs `blocks` 64-byte blocks of each stream through states `s0` and `s1` (five words each).
__attribute__((target("sha,sse4.1,ssse3")))
static inline void evtorrent_sha1_pair_blocks(uint32_t *s0, uint32_t *s1, const uint8_t *d0, const uint8_t *d1, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i A0 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)s0), 0x1B);
    __m128i A1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)s1), 0x1B);
    __m128i E00 = _mm_set_epi32((int)s0[4], 0, 0, 0), E10 = _mm_set_epi32((int)s1[4], 0, 0, 0);
    __m128i E01 = _mm_setzero_si128(), E11 = _mm_setzero_si128();
    for (size_t block = 0; block < blocks; block++, d0 += 64, d1 += 64) {
        __m128i savedA0 = A0, savedE0 = E00, savedA1 = A1, savedE1 = E10, W0[4], W1[4];
        for (int i = 0; i < 4; i++) {
            W0[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d0 + 16 * i)), mask);
            W1[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d1 + 16 * i)), mask);
        }
        EVTORRENT_SHA1_BOTH(0); EVTORRENT_SHA1_BOTH(1); EVTORRENT_SHA1_BOTH(2); EVTORRENT_SHA1_BOTH(3);
        EVTORRENT_SHA1_BOTH(4); EVTORRENT_SHA1_BOTH(5); EVTORRENT_SHA1_BOTH(6); EVTORRENT_SHA1_BOTH(7);
        EVTORRENT_SHA1_BOTH(8); EVTORRENT_SHA1_BOTH(9); EVTORRENT_SHA1_BOTH(10); EVTORRENT_SHA1_BOTH(11);
        EVTORRENT_SHA1_BOTH(12); EVTORRENT_SHA1_BOTH(13); EVTORRENT_SHA1_BOTH(14); EVTORRENT_SHA1_BOTH(15);
        EVTORRENT_SHA1_BOTH(16); EVTORRENT_SHA1_BOTH(17); EVTORRENT_SHA1_BOTH(18); EVTORRENT_SHA1_BOTH(19);
        E00 = _mm_sha1nexte_epu32(E00, savedE0);
        A0 = _mm_add_epi32(A0, savedA0);
        E10 = _mm_sha1nexte_epu32(E10, savedE1);
        A1 = _mm_add_epi32(A1, savedA1);
    }
    _mm_storeu_si128((__m128i *)s0, _mm_shuffle_epi32(A0, 0x1B));
    s0[4] = (uint32_t)_mm_extract_epi32(E00, 3);
    _mm_storeu_si128((__m128i *)s1, _mm_shuffle_epi32(A1, 0x1B));
    s1[4] = (uint32_t)_mm_extract_epi32(E10, 3);
}
#undef EVTORRENT_SHA1_BOTH
#undef EVTORRENT_SHA1_GROUP

/// The last one or two blocks of both streams: the tail, 0x80, zeros and the length in bits.
static inline void evtorrent_sha1_pair_finish(uint32_t *s0, uint32_t *s1, const uint8_t *t0, const uint8_t *t1, size_t tail, uint64_t total, unsigned char *o0, unsigned char *o1) {
    uint8_t b0[128], b1[128];
    size_t padded = tail + 9 <= 64 ? 64 : 128;
    memset(b0, 0, padded);
    memset(b1, 0, padded);
    memcpy(b0, t0, tail);
    memcpy(b1, t1, tail);
    b0[tail] = b1[tail] = 0x80;
    for (int i = 0; i < 8; i++) b0[padded - 1 - i] = b1[padded - 1 - i] = (uint8_t)((total * 8) >> (8 * i));
    evtorrent_sha1_pair_blocks(s0, s1, b0, b1, padded / 64);
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 4; k++) {
            o0[4 * i + k] = (unsigned char)(s0[i] >> (24 - 8 * k));
            o1[4 * i + k] = (unsigned char)(s1[i] >> (24 - 8 * k));
        }
    }
}
#endif

/// The SHA-1 digests of `length` bytes at `a` and at `b` (20 bytes each to `outA` and `outB`).
static inline void evtorrent_sha1_pair(const void *a, const void *b, size_t length, unsigned char *outA, unsigned char *outB) {
#if defined(__x86_64__)
    if (evtorrent_sha1_pair_accelerated()) {
        uint32_t s0[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
        uint32_t s1[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
        const uint8_t *d0 = (const uint8_t *)a, *d1 = (const uint8_t *)b;
        size_t whole = length / 64;
        evtorrent_sha1_pair_blocks(s0, s1, d0, d1, whole);
        evtorrent_sha1_pair_finish(s0, s1, d0 + whole * 64, d1 + whole * 64, length % 64, (uint64_t)length, outA, outB);
        return;
    }
#endif
    SHA1((const unsigned char *)a, length, outA);
    SHA1((const unsigned char *)b, length, outB);
}
#pragma clang diagnostic pop

#endif
