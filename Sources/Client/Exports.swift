// What a user of the engine (the command line, the daemon) needs besides Client itself: the pure
// protocol types, and from Reactor only plain values. The loop, sockets and pools stay inside
// (NIOPosix re-exports NIOCore the same way).
@_exported import TorrentCore
@_exported import struct Reactor.SocketAddress
@_exported import struct Reactor.SystemError
@_exported import enum Reactor.PayloadMode
@_exported import struct Reactor.FileStatus
