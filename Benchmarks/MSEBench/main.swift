// Benchmarks/mse: TorrentCore's RC4 (MSE/PE's cipher) in CPU seconds per GiB, ciphering 16 KiB
// buffers (a block) in place; the script prints OpenSSL's legacy-provider RC4 beside it. With
// `dh`, the key exchange instead: microseconds of loop time per encrypted connection (a fresh
// 768-bit key pair and the shared secret, as each handshake does).
//   mse-bench [runs] [MiB per run]     mse-bench dh [handshakes]
import Foundation
import Reactor
import TorrentCore

if CommandLine.arguments.dropFirst().first == "dh" {
    let count = Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 2000
    let peer = KeyExchange(prime: MSEHandshake.prime)
    let start = clock()
    for _ in 0..<count {
        let ours = KeyExchange(prime: MSEHandshake.prime)
        precondition(ours.secret(peer.publicKey)?.count == 96)
    }
    let seconds = Double(clock() - start) / Double(CLOCKS_PER_SEC)
    print(String(format: "%.1f", seconds / Double(count) * 1e6))
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let runs = arguments.first ?? 9
let mebibytes = arguments.dropFirst().first ?? 1024
var cipher = RC4(key: (0..<20).map { UInt8($0) })
var buffer = [UInt8](repeating: 0x5A, count: 16_384)
let chunks = mebibytes * 64

// One line per run: CPU seconds per GiB (the script takes the median).
for _ in 0..<runs {
    let start = clock()
    for _ in 0..<chunks { buffer.withUnsafeMutableBytes { cipher.apply($0) } }
    let seconds = Double(clock() - start) / Double(CLOCKS_PER_SEC)
    print(String(format: "%.3f", seconds / (Double(mebibytes) / 1024)))
}
// Keeps the work observable.
if buffer[0] == 0x5A && buffer[1] == 0x5A { print("keystream was zero") }
