/// Which service a datagram on a shared UDP port is for, told by its first bytes alone, so one
/// socket per port serves the UDP tracker client, the DHT (BEP 5) and uTP (BEP 29) at once:
/// - KRPC is a bencoded dictionary: `d` ... `e`;
/// - uTP's first byte is type (0...4) << 4 | version 1, and its header is 20 bytes;
/// - a UDP tracker reply (BEP 15) starts with a big-endian action 0...3, so three zero bytes.
/// The three never overlap: `d` (0x64) would be uTP type 6, and a tracker reply starts with 0x00.
public enum UDPDatagramKind: Equatable, Sendable {
    /// A DHT message.
    case krpc
    /// A uTP packet.
    case utp
    /// A UDP tracker's reply.
    case trackerReply
    /// None of them: dropped.
    case unknown

    /// The kind of `datagram`.
    public init(classifying datagram: [UInt8]) {
        guard let first = datagram.first else {
            self = .unknown
            return
        }
        if first == UInt8(ascii: "d"), datagram.last == UInt8(ascii: "e"), datagram.count >= 2 {
            self = .krpc
        } else if datagram.count >= 8, first == 0, datagram[1] == 0, datagram[2] == 0, datagram[3] <= 3 {
            self = .trackerReply
        } else if datagram.count >= 20, first & 0x0F == 1, first >> 4 <= 4 {
            self = .utp
        } else {
            self = .unknown
        }
    }
}
