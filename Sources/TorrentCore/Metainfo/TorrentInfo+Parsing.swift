extension TorrentInfo {
    /// The largest piece length accepted: a whole piece is held in memory to hash it.
    public static let maxPieceLength = 1 << 30

    /// Validates an `info` dictionary (BEP 3; BEP 27 `private`; BEP 47 `attr`).
    ///
    /// Two files at one path, or a file where another file's path has a directory, are refused
    /// when `strict`; otherwise the later file is renamed `NAME.1.EXT`, `NAME.2.EXT`, ... (the
    /// names libtorrent gives them), so both are kept and neither overwrites the other.
    /// `encoded`: the dictionary's bytes, kept by the caller; the piece hashes are then kept as
    /// the part of them they are, not a second copy.
    init(parsing info: BencodeDictionary, strict: Bool = false, encoded: [UInt8]? = nil) throws(MetainfoError) {
        let rawName = try Self.required(info, "name").bytesValue
        guard let rawName else { throw .wrongType(key: "name", expected: "a string") }
        let name = String(decoding: rawName, as: UTF8.self)
        try PathSafety.check(component: rawName, in: name)

        guard let pieceLength = try Self.required(info, "piece length").integerValue else {
            throw .wrongType(key: "piece length", expected: "an integer")
        }
        guard pieceLength > 0 && pieceLength <= Int64(Self.maxPieceLength) else {
            throw .invalidPieceLength(pieceLength)
        }

        guard let pieces = info["pieces"] else {
            throw info["meta version"] != nil && info["file tree"] != nil ? .v2Only : .missingKey("pieces")
        }
        guard let pieceHashes = pieces.bytesValue else { throw .wrongType(key: "pieces", expected: "a string") }
        guard pieceHashes.count % 20 == 0 else { throw .piecesNotMultipleOf20(pieceHashes.count) }

        let files: [TorrentFile]
        let isSingleFile: Bool
        if let length = info["length"] {
            guard let length = length.integerValue else { throw .wrongType(key: "length", expected: "an integer") }
            guard length >= 0 else { throw .invalidFileLength(path: name, length: length) }
            files = [TorrentFile(path: [], length: length, attributes: info["attr"]?.stringValue ?? "")]
            isSingleFile = true
        } else if let list = info["files"] {
            guard let list = list.listValue else { throw .wrongType(key: "files", expected: "a list") }
            files = try Self.parseFiles(list, name: name, strict: strict)
            isSingleFile = false
        } else {
            throw .missingKey("length")
        }

        var total: Int64 = 0
        for file in files {
            let (sum, overflow) = total.addingReportingOverflow(file.length)
            if overflow { throw .invalidFileLength(path: ([name] + file.path).joined(separator: "/"), length: file.length) }
            total = sum
        }
        guard total > 0 else { throw .emptyTorrent }
        let layout = FileLayout(fileLengths: files.map(\.length), pieceLength: Int(pieceLength))
        guard layout.pieceCount == pieceHashes.count / 20 else {
            throw .pieceCountMismatch(expected: layout.pieceCount, actual: pieceHashes.count / 20)
        }

        let privateFlag = info["private"]
        if let privateFlag, privateFlag.integerValue == nil {
            throw .wrongType(key: "private", expected: "an integer")
        }
        self.init(
            name: name, pieceLength: Int(pieceLength), pieceHashes: encoded.flatMap { Self.find(pieceHashes, in: $0) } ?? pieceHashes[...],
            files: files,
            isSingleFile: isSingleFile, isPrivate: privateFlag?.integerValue == 1,
            source: info["source"]?.stringValue, layout: layout)
    }

    /// Where `hashes` are in `encoded`, the info dictionary's bytes: after the key and length
    /// (`6:pieces40:`), checked byte for byte (a file name could spell the same key).
    /// A plain scan, not `firstRange(of:)`: that is _StringProcessing's searcher, and a daemon
    /// loading ten thousand torrents then maps its code and the regex library's beside it.
    static func find(_ hashes: [UInt8], in encoded: [UInt8]) -> ArraySlice<UInt8>? {
        let marker = Array("6:pieces\(hashes.count):".utf8)
        let last = encoded.count - marker.count - hashes.count
        guard last >= 0 else { return nil }
        for start in 0...last where encoded[start] == marker[0] {
            let value = start + marker.count..<start + marker.count + hashes.count
            if encoded[start..<value.lowerBound].elementsEqual(marker), encoded[value].elementsEqual(hashes) { return encoded[value] }
        }
        return nil
    }

    private static func required(_ dictionary: BencodeDictionary, _ key: String) throws(MetainfoError)
        -> BencodeValue
    {
        guard let value = dictionary[key] else { throw .missingKey(key) }
        return value
    }

    private static func parseFiles(_ list: [BencodeValue], name: String, strict: Bool) throws(MetainfoError) -> [TorrentFile] {
        var files: [TorrentFile] = []
        for item in list {
            guard let entry = item.dictionaryValue else {
                throw .wrongType(key: "files", expected: "a list of dictionaries")
            }
            guard let length = try required(entry, "length").integerValue else {
                throw .wrongType(key: "length", expected: "an integer")
            }
            guard let rawPath = try required(entry, "path").listValue else {
                throw .wrongType(key: "path", expected: "a list of strings")
            }
            var parts: [[UInt8]] = []
            for part in rawPath {
                guard let bytes = part.bytesValue else { throw .wrongType(key: "path", expected: "a list of strings") }
                parts.append(bytes)
            }
            let shown = ([name] + parts.map { String(decoding: $0, as: UTF8.self) }).joined(separator: "/")
            // An empty or "." component names the directory it is in, as it would in a path on
            // disk: libtorrent and Transmission drop it, and so do we (strict parsing refuses it).
            if !strict { parts.removeAll { $0.isEmpty || $0 == [0x2E] } }
            guard !parts.isEmpty else { throw .unsafePath(path: shown, reason: "is empty") }
            for part in parts { try PathSafety.check(component: part, in: shown) }
            let components = parts.map { String(decoding: $0, as: UTF8.self) }
            // No file system takes a longer path (PATH_MAX), and a long one is how a small torrent
            // once made this parser quadratic.
            guard shown.utf8.count <= PathSafety.maxPathBytes else {
                throw .unsafePath(path: String(shown.prefix(120)) + "…", reason: "is longer than \(PathSafety.maxPathBytes) bytes")
            }
            guard length >= 0 else { throw .invalidFileLength(path: shown, length: length) }
            files.append(TorrentFile(path: components, length: length, attributes: entry["attr"]?.stringValue ?? ""))
        }
        guard !files.isEmpty else { throw .wrongType(key: "files", expected: "a non-empty list") }
        return try PathConflicts.resolve(files, name: name, strict: strict)
    }
}

/// The rules a name or path component from an untrusted torrent must meet before it touches a disk.
public enum PathSafety {
    /// The longest path a torrent may give a file, its name included (Linux's PATH_MAX).
    public static let maxPathBytes = 4096

    /// Throws if `component` is empty, `.` or `..`, or holds a path separator (`/` or `\`) or a NUL.
    ///
    /// A component starting with `/` is caught as a separator, which covers absolute paths.
    public static func check(component: [UInt8], in path: String) throws(MetainfoError) {
        if component.isEmpty { throw .unsafePath(path: path, reason: "has an empty component") }
        if component == [0x2E] || component == [0x2E, 0x2E] {
            throw .unsafePath(path: path, reason: "has a '.' or '..' component")
        }
        if component.contains(UInt8(ascii: "/")) || component.contains(UInt8(ascii: "\\")) {
            throw .unsafePath(path: path, reason: "has a component with a path separator")
        }
        if component.contains(0) { throw .unsafePath(path: path, reason: "has a NUL byte") }
    }
}

/// Finds two files at one path, or a file where another file's path has a directory, and
/// renames the later one (or refuses, when strict).
///
/// A tree of components, one node per directory or file. Every file's directories go in first,
/// so a file is the one renamed when it collides with a directory, whichever comes first. Each
/// path is walked once: linear in the torrent's size however deep a path goes (storing every
/// prefix of every path, as this once did, took gigabytes for one path of 40,000 components).
/// BEP 47 padding files are never written, and libtorrent names many of them alike: they are
/// left out.
enum PathConflicts {
    private struct Node {
        var children: [String: Int] = [:]
        var isFile = false
    }

    static func resolve(_ files: [TorrentFile], name: String, strict: Bool) throws(MetainfoError) -> [TorrentFile] {
        var nodes = [Node()]
        // The directory a path's last component goes in, made as needed.
        func directory(of path: [String]) -> Int {
            var current = 0
            for component in path.dropLast() {
                if let next = nodes[current].children[component] {
                    current = next
                } else {
                    nodes.append(Node())
                    nodes[current].children[component] = nodes.count - 1
                    current = nodes.count - 1
                }
            }
            return current
        }
        for file in files where !file.isPadding { _ = directory(of: file.path) }
        var resolved = files
        for (index, file) in files.enumerated() where !file.isPadding {
            let parent = directory(of: file.path)
            var last = file.path[file.path.count - 1]
            if nodes[parent].children[last] != nil {
                if strict { throw .conflictingPaths(([name] + file.path).joined(separator: "/")) }
                last = freeName(for: last) { nodes[parent].children[$0] == nil }
                resolved[index] = TorrentFile(path: Array(file.path.dropLast()) + [last], length: file.length, attributes: file.attributes)
            }
            nodes.append(Node(isFile: true))
            nodes[parent].children[last] = nodes.count - 1
        }
        return resolved
    }

    /// `base.N.ext` (or `name.N` without an extension) for the smallest N that `isFree`. The
    /// extension starts at the last dot, even a leading one (`.hidden` → `.1.hidden`), as
    /// libtorrent names it: the same data directory then serves both.
    static func freeName(for name: String, isFree: (String) -> Bool) -> String {
        let dot = name.lastIndex(of: ".")
        let base = dot.map { String(name[..<$0]) } ?? name
        let ext = dot.map { String(name[$0...]) } ?? ""
        var number = 1
        while !isFree("\(base).\(number)\(ext)") { number += 1 }
        return "\(base).\(number)\(ext)"
    }
}
