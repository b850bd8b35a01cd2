import Reactor

/// A handler made of closures, recording what it heard.
final class Probe: ConnectionHandler {
    var received: [UInt8] = []
    var made = 0
    var flushed = 0
    var closeReasons: [CloseReason] = []
    var onMade: ((any Connection) -> Void)?
    var onBytes: ((any Connection, inout InputBuffer) -> Void)?
    var onFlushed: ((any Connection) -> Void)?

    func connectionMade(_ connection: any Connection) {
        made += 1
        onMade?(connection)
    }

    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) {
        if let onBytes {
            onBytes(connection, &input)
        } else {
            received += input.readAll()
        }
    }

    func outputFlushed(_ connection: any Connection) {
        flushed += 1
        onFlushed?(connection)
    }

    func connectionClosed(_ connection: any Connection, reason: CloseReason) { closeReasons.append(reason) }
}

/// Echoes every byte back.
final class Echo: ConnectionHandler {
    func bytesArrived(_ connection: any Connection, _ input: inout InputBuffer) { connection.write(input.readAll()) }
    func connectionClosed(_ connection: any Connection, reason: CloseReason) {}
}

let loopback = SocketAddress(host: "127.0.0.1", port: 0)!
