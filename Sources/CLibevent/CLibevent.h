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

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/dns.h>
#include <event2/thread.h>

#endif
