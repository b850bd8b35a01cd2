#ifndef EVTORRENT_CLIBEVENT_H
#define EVTORRENT_CLIBEVENT_H

// System headers first: event2/event-config.h defines _GNU_SOURCE, and fd_set must come from the
// same definition Glibc's Swift module saw (LIBEVENT-NOTES.md §1).
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <malloc.h>

// preadv2 is declared only under _GNU_SOURCE, which must not change the include order above;
// glibc exports it either way. RWF_NOWAIT (linux/fs.h): fail with EAGAIN instead of reading the disk.
ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags);

/// Reads only what is already in the page cache; -1 with errno EAGAIN if that would need the disk.
static inline ssize_t evtorrent_pread_nowait(int fd, void *buffer, size_t length, off_t offset) {
    struct iovec vector = { buffer, length };
    return preadv2(fd, &vector, 1, offset, 0x00000008 /* RWF_NOWAIT */);
}

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/dns.h>
#include <event2/thread.h>

/// EV_RATE_LIMIT_MAX is a macro expression Swift cannot import: the "unlimited" token rate.
static inline ssize_t evtorrent_rate_limit_max(void) { return EV_RATE_LIMIT_MAX; }

#endif
