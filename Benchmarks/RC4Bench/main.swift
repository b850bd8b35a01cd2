// Benchmarks/rc4: TorrentCore's RC4 (MSE/PE's cipher) in CPU seconds per GiB, ciphering 16 KiB
// buffers (a block) in place. The script prints OpenSSL's legacy-provider RC4 beside it.
//   rc4-bench [runs] [MiB per run]
import Foundation
import TorrentCore

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
