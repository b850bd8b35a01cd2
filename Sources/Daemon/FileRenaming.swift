/// `torrent-rename-path` on a torrent's file names, with no I/O: `path` names a file or a folder
/// (relative to the download directory, the torrent's name first) and `name` its new last
/// component. The answer is the new names and the one rename to carry out on disk.
enum FileRenaming {
    struct Renamed: Equatable {
        /// Every file's new path relative to the download directory.
        var names: [String]
        /// What to rename on disk, relative to the download directory.
        var from: String
        var to: String
    }

    enum Refusal: Error, Equatable, CustomStringConvertible {
        case invalidName(String)
        case noSuchPath(String)
        case taken(String)

        var description: String {
            switch self {
            case .invalidName(let name): return "invalid name '\(name)': a name is one path component, not empty, '.' or '..'"
            case .noSuchPath(let path): return "no file or folder '\(path)' in this torrent"
            case .taken(let path): return "'\(path)' is already a file or folder of this torrent"
            }
        }
    }

    static func rename(_ names: [String], path: String, to name: String) -> Result<Renamed, Refusal> {
        guard !name.isEmpty, name != ".", name != "..", !name.utf8.contains(UInt8(ascii: "/")), !name.utf8.contains(0) else {
            return .failure(.invalidName(name))
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !components.isEmpty, !components.contains("."), !components.contains("..") else { return .failure(.noSuchPath(path)) }
        let from = components.joined(separator: "/")
        let to = (components.dropLast() + [name]).joined(separator: "/")
        func isUnder(_ file: String, _ prefix: String) -> Bool { file == prefix || file.hasPrefix(prefix + "/") }
        guard names.contains(where: { isUnder($0, from) }) else { return .failure(.noSuchPath(path)) }
        if from == to { return .success(Renamed(names: names, from: from, to: to)) }
        if names.contains(where: { !isUnder($0, from) && (isUnder($0, to) || isUnder(to, $0)) }) { return .failure(.taken(to)) }
        let renamed = names.map { file in isUnder(file, from) ? to + file.dropFirst(from.count) : file }
        return .success(Renamed(names: renamed, from: from, to: to))
    }
}
