import Reactor
import TorrentCore

#if canImport(Glibc)
    import Glibc
#endif

/// Whole-torrent file work the daemon asks for: deleting a torrent's data, and moving it to
/// another download directory. Only the torrent's own files are touched, and the folders they
/// leave empty below the download directory. Blocking: run on a worker.
public enum DataFiles {
    /// Deletes exactly the files of `location`, then the folders they leave empty, never anything
    /// outside `root` (paths were checked when the torrent was parsed).
    public static func remove(_ location: ContentLocation, below root: String) -> [SystemError] {
        var failures: [SystemError] = []
        for path in location.paths {
            do { try FileContents.remove(path) } catch { failures.append(error) }
        }
        removeEmptyFolders(of: location.paths, below: root)
        return failures
    }

    /// Moves the files of `source` to `target` (the same torrent in another directory) so that a
    /// crash at any moment loses nothing, and running it again after one finishes the move:
    /// - each file is renamed, or across filesystems copied whole beside its target and renamed
    ///   into place (`FileMover`); a file at its target is complete, and its source is removed
    ///   only once every file is in place;
    /// - a file found at its target with its source still there was placed by an interrupted run
    ///   when `resuming`; otherwise such a target belongs to someone else and nothing moves;
    /// - if a file cannot be moved (a full disk), every file goes back where it was and the error
    ///   comes back: the torrent is whole at its old place.
    /// `root` and `targetRoot` are the old and the new download directory.
    public static func move(
        _ source: ContentLocation, to target: ContentLocation, from root: String, into targetRoot: String, resuming: Bool
    ) -> SystemError? {
        precondition(source.paths.count == target.paths.count)
        let pairs = zip(source.paths, target.paths).filter { $0 != $1 }
        if !resuming, let taken = pairs.first(where: { exists($0.1) && exists($0.0) }) {
            return SystemError(errno: EEXIST, operation: "move onto", path: taken.1)
        }
        for (from, to) in pairs {
            try? FileContents.remove(to + FileMover.partialSuffix)
            // Gone from the source: moved already (or never written).
            guard exists(from), !exists(to) else { continue }
            do { _ = try FileMover.move(from, to: to) } catch {
                rollBack(pairs)
                removeEmptyFolders(of: target.paths, below: targetRoot)
                return error
            }
        }
        for (from, to) in pairs where exists(from) && exists(to) { try? FileContents.remove(from) }
        removeEmptyFolders(of: source.paths, below: root)
        return nil
    }

    /// Puts every file of an unfinished move back at its source.
    private static func rollBack(_ pairs: [(String, String)]) {
        for (from, to) in pairs where exists(to) {
            if exists(from) {
                try? FileContents.remove(to)
            } else {
                // Only a copy whose source is gone cannot be renamed back; it stays whole where it is.
                _ = rename(to, from)
            }
        }
    }

    private static func exists(_ path: String) -> Bool { ((try? FileStatus.of(path)) ?? nil) != nil }

    /// Removes the folders holding `paths` that are now empty, deepest first, up to (not
    /// including) `root`.
    static func removeEmptyFolders(of paths: [String], below root: String) {
        var folders = Set<String>()
        for path in paths {
            var folder = path
            while let slash = folder.lastIndex(of: "/") {
                folder = String(folder[..<slash])
                guard folder.count > root.count, folder.hasPrefix(root + "/") else { break }
                folders.insert(folder)
            }
        }
        // rmdir removes only empty folders, so a folder holding other files stays.
        for folder in folders.sorted(by: { $0.count > $1.count }) { rmdir(folder) }
    }
}
