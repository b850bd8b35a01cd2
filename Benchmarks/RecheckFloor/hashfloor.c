// The floor for rechecking a file in the page cache: SHA-1 over pieces on N threads, each piece
// (a) hashed from memory only (the same buffer again and again: no reading at all), (b) read
// with pread into a buffer and hashed (what evtorrent verify does), (c) hashed from one mapping
// of the whole file (MADV_SEQUENTIAL), (d) hashed from per-thread windows of 32 MiB made resident
// with MADV_POPULATE_READ. Prints the wall seconds.
//   hashfloor FILE MODE(memory|pread|map|window) THREADS [PIECE_BYTES]
#define _GNU_SOURCE
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

enum mode { MEMORY, PREAD, MAP, WINDOW };
static enum mode mode;
static int fd;
static size_t size, piece = 262144, window = 32 << 20;
static long pieces;
static unsigned char *whole;
static atomic_long next;

static void sha1(const unsigned char *data, size_t length) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digestLength;
    EVP_Digest(data, length, digest, &digestLength, EVP_sha1(), NULL);
}

static size_t length_of(long index) {
    size_t offset = (size_t)index * piece;
    return offset + piece > size ? size - offset : piece;
}

static void *lane(void *unused) {
    (void)unused;
    unsigned char *buffer = aligned_alloc(64, piece);
    memset(buffer, 7, piece);
    long perWindow = (long)(window / piece);
    for (;;) {
        if (mode == WINDOW) {
            long first = atomic_fetch_add(&next, perWindow);
            if (first >= pieces) break;
            long end = first + perWindow < pieces ? first + perWindow : pieces;
            size_t offset = (size_t)first * piece, length = (size_t)(end - first - 1) * piece + length_of(end - 1);
            unsigned char *map = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
            if (map == MAP_FAILED) { perror("mmap"); exit(1); }
            madvise(map, length, MADV_POPULATE_READ);
            for (long index = first; index < end; index++) sha1(map + (size_t)(index - first) * piece, length_of(index));
            munmap(map, length);
            continue;
        }
        long index = atomic_fetch_add(&next, 1);
        if (index >= pieces) break;
        size_t length = length_of(index);
        switch (mode) {
        case MEMORY: sha1(buffer, length); break;
        case PREAD:
            if (pread(fd, buffer, length, (off_t)((size_t)index * piece)) != (ssize_t)length) { perror("pread"); exit(1); }
            sha1(buffer, length);
            break;
        default: sha1(whole + (size_t)index * piece, length); break;
        }
    }
    free(buffer);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: hashfloor FILE memory|pread|map|window THREADS [PIECE_BYTES]\n"); return 2; }
    mode = !strcmp(argv[2], "memory") ? MEMORY : !strcmp(argv[2], "pread") ? PREAD : !strcmp(argv[2], "map") ? MAP : WINDOW;
    int threads = atoi(argv[3]);
    if (argc > 4) piece = (size_t)atol(argv[4]);
    if ((fd = open(argv[1], O_RDONLY)) < 0) { perror(argv[1]); return 1; }
    struct stat status;
    fstat(fd, &status);
    size = (size_t)status.st_size;
    pieces = (long)((size + piece - 1) / piece);
    struct timespec began, ended;
    clock_gettime(CLOCK_MONOTONIC, &began);
    if (mode == MAP) {
        whole = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (whole == MAP_FAILED) { perror("mmap"); return 1; }
        madvise(whole, size, MADV_SEQUENTIAL);
    }
    pthread_t lanes[64];
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&lanes[i], NULL, lane, NULL);
    for (int i = 0; i < threads && i < 64; i++) pthread_join(lanes[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &ended);
    printf("%.3f\n", (double)(ended.tv_sec - began.tv_sec) + (double)(ended.tv_nsec - began.tv_nsec) / 1e9);
    return 0;
}
