// Benchmarks/json: TorrentCore's JSON against Foundation's JSONSerialization and JSONEncoder on
// the daemon's two heavy cases: encoding a torrent-get reply for 10,000 torrents (the fields
// transmission-remote -l asks for) and parsing a torrent-add carrying a 2 MiB base64 .torrent.
// Prints the median of RUNS timings for each.
import Foundation
import TorrentCore

let runs = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 9
let count = 10_000

struct Row: Encodable {
    let id: Int, name: String, hashString: String, error: Int, errorString: String, eta: Int, isFinished: Bool
    let leftUntilDone: Int64, peersGettingFromUs: Int, peersSendingToUs: Int, rateDownload: Int, rateUpload: Int
    let sizeWhenDone: Int64, status: Int, uploadRatio: Double
}
func makeRow(_ index: Int) -> Row {
    let name: String = "Some.Linux.Distribution.\(index).x86_64.iso"
    let size: Int64 = 4_700_000_000 + Int64(index)
    let ratio: Double = Double(index % 100) / 7
    return Row(
        id: index + 1, name: name, hashString: String(repeating: "ab", count: 20), error: 0, errorString: "", eta: -1,
        isFinished: false, leftUntilDone: 0, peersGettingFromUs: index % 7, peersSendingToUs: 0, rateDownload: 0,
        rateUpload: index * 13, sizeWhenDone: size, status: 6, uploadRatio: ratio)
}
let rows: [Row] = (0..<count).map(makeRow)

func median(_ body: () -> Int) -> (seconds: Double, bytes: Int) {
    var times: [Double] = []
    var bytes = 0
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        bytes = body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return (times.sorted()[times.count / 2], bytes)
}

func ourObject(_ row: Row) -> JSON {
    var members: [(String, JSON)] = []
    members.append(("id", .integer(Int64(row.id))))
    members.append(("name", .string(row.name)))
    members.append(("hashString", .string(row.hashString)))
    members.append(("error", .integer(Int64(row.error))))
    members.append(("errorString", .string(row.errorString)))
    members.append(("eta", .integer(Int64(row.eta))))
    members.append(("isFinished", .bool(row.isFinished)))
    members.append(("leftUntilDone", .integer(row.leftUntilDone)))
    members.append(("peersGettingFromUs", .integer(Int64(row.peersGettingFromUs))))
    members.append(("peersSendingToUs", .integer(Int64(row.peersSendingToUs))))
    members.append(("rateDownload", .integer(Int64(row.rateDownload))))
    members.append(("rateUpload", .integer(Int64(row.rateUpload))))
    members.append(("sizeWhenDone", .integer(row.sizeWhenDone)))
    members.append(("status", .integer(Int64(row.status))))
    members.append(("uploadRatio", .double(row.uploadRatio)))
    return .object(members)
}
let ours = median {
    let torrents = JSON.array(rows.map(ourObject))
    let reply: JSON = .object([("arguments", .object([("torrents", torrents)])), ("result", .string("success")), ("tag", .integer(4))])
    return reply.encoded().count
}
func foundationObject(_ row: Row) -> [String: Any] {
    var object: [String: Any] = [:]
    object["id"] = row.id
    object["name"] = row.name
    object["hashString"] = row.hashString
    object["error"] = row.error
    object["errorString"] = row.errorString
    object["eta"] = row.eta
    object["isFinished"] = row.isFinished
    object["leftUntilDone"] = row.leftUntilDone
    object["peersGettingFromUs"] = row.peersGettingFromUs
    object["peersSendingToUs"] = row.peersSendingToUs
    object["rateDownload"] = row.rateDownload
    object["rateUpload"] = row.rateUpload
    object["sizeWhenDone"] = row.sizeWhenDone
    object["status"] = row.status
    object["uploadRatio"] = row.uploadRatio
    return object
}
let serialization = median {
    let torrents: [[String: Any]] = rows.map(foundationObject)
    let reply: [String: Any] = ["arguments": ["torrents": torrents], "result": "success", "tag": 4]
    return (try! JSONSerialization.data(withJSONObject: reply)).count
}
struct Reply: Encodable {
    struct Arguments: Encodable { let torrents: [Row] }
    let arguments: Arguments, result: String, tag: Int
}
let encoder = median { (try! JSONEncoder().encode(Reply(arguments: .init(torrents: rows), result: "success", tag: 4))).count }

let base64 = String(repeating: "QUJDRA==", count: (2 << 20) / 8)
let request = Array(#"{"method":"torrent-add","arguments":{"metainfo":"\#(base64)","paused":true},"tag":9}"#.utf8)
let parseOurs = median {
    guard case .string(let text)? = (try! JSON(parsing: request))["arguments"]?["metainfo"] else { fatalError() }
    return text.utf8.count
}
let parseFoundation = median {
    let object = try! JSONSerialization.jsonObject(with: Data(request)) as! [String: Any]
    return ((object["arguments"] as! [String: Any])["metainfo"] as! String).utf8.count
}

func line(_ name: String, _ result: (seconds: Double, bytes: Int), _ base: Double) {
    print(String(format: "| %@ | %.1f ms | %d | %.2f× |", name, result.seconds * 1000, result.bytes, result.seconds / base))
}
print("torrent-get reply, \(count) torrents x 15 fields, median of \(runs)")
print("| encoder | time | bytes | vs TorrentCore |\n|---|---|---|---|")
line("TorrentCore JSON", ours, ours.seconds)
line("JSONSerialization", serialization, ours.seconds)
line("JSONEncoder (Codable)", encoder, ours.seconds)
print("\ntorrent-add request with a 2 MiB base64 metainfo, median of \(runs)")
print("| parser | time | string bytes | vs TorrentCore |\n|---|---|---|---|")
line("TorrentCore JSON", parseOurs, parseOurs.seconds)
line("JSONSerialization", parseFoundation, parseOurs.seconds)
