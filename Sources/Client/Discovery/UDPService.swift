import Reactor
import TorrentCore

/// One UDP socket for one port and address family, shared by every UDP service on it: the UDP
/// tracker client today, the DHT and uTP next (a DHT node and uTP must answer from the peer port
/// that peers and trackers know). Each datagram goes to the handler registered for its kind
/// (`UDPDatagramKind`); others are counted and dropped.
final class UDPService {
    private let socket: UDPSocket
    private var handlers: [UDPDatagramKind: ([UInt8], SocketAddress) -> Void] = [:]
    /// Datagrams no service took.
    private(set) var dropped = 0

    /// Binds `address` (port 0 picks one).
    init(loop: EventLoop, address: SocketAddress) throws(SystemError) {
        socket = try UDPSocket(loop: loop, address: address)
        socket.datagramArrived = { [unowned self] bytes, sender in self.arrived(bytes, from: sender) }
    }

    /// The bound address.
    var localAddress: SocketAddress { socket.localAddress }

    /// Hands datagrams of `kind` to `handler` (replacing any earlier one).
    func register(_ kind: UDPDatagramKind, _ handler: @escaping ([UInt8], SocketAddress) -> Void) { handlers[kind] = handler }

    /// Sends one datagram; false if the kernel refused it at once.
    @discardableResult
    func send(_ bytes: [UInt8], to address: SocketAddress) -> Bool { socket.send(bytes, to: address) }

    private func arrived(_ bytes: [UInt8], from sender: SocketAddress) {
        guard let handler = handlers[UDPDatagramKind(classifying: bytes)] else {
            dropped += 1
            return
        }
        handler(bytes, sender)
    }
}

@available(*, unavailable)
extension UDPService: Sendable {}
