import Foundation
import Reactor
import ReactorTesting
import Testing

@testable import Client

/// Moving and deleting a torrent's data: only its own files, nothing lost at any step.
@Suite struct DataFilesTests {
    private func contents(_ location: ContentLocation) -> [[UInt8]?] {
        location.paths.map { try? FileContents.read($0, limit: 1 << 20) }
    }

    // A move renames every file into the new directory, keeps the bytes and the mtimes (so resume
    // data still holds), removes the folders it emptied and leaves a neighbour alone.
    @Test func movesEveryFileAndOnlyThose() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        try content.directory.write("neighbour.txt", [1, 2, 3])
        let source = ContentLocation(metainfo: content.metainfo, directory: content.directory.path)
        let before = contents(source)
        let states = ResumeStore.fileStates(source)
        let target = ContentLocation(metainfo: content.metainfo, directory: content.directory.path + "/moved/here")
        let failure = DataFiles.move(
            source, to: target, from: content.directory.path, into: content.directory.path + "/moved/here", resuming: false)
        #expect(failure == nil)
        #expect(contents(target) == before)
        #expect(ResumeStore.fileStates(target) == states)
        #expect(contents(source).allSatisfy { $0 == nil })
        #expect(!FileManager.default.fileExists(atPath: content.directory.path + "/content"))
        #expect(FileManager.default.fileExists(atPath: content.directory.path + "/neighbour.txt"))
    }

    // A file already at the target that is not ours stops the move before anything moves.
    @Test func refusesToOverwriteAnotherFile() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let source = ContentLocation(metainfo: content.metainfo, directory: content.directory.path)
        let before = contents(source)
        try content.directory.write("other/content/b/c.bin", [9, 9, 9])
        let target = ContentLocation(metainfo: content.metainfo, directory: content.directory.path + "/other")
        let failure = DataFiles.move(source, to: target, from: content.directory.path, into: content.directory.path + "/other", resuming: false)
        #expect(failure?.errno == EEXIST)
        #expect(contents(source) == before)
        #expect(try FileContents.read(content.directory.path + "/other/content/b/c.bin", limit: 10) == [9, 9, 9])
        #expect(!FileManager.default.fileExists(atPath: content.directory.path + "/other/content/a.bin"))
    }

    // A file that cannot be moved (its folder cannot be made) puts the files moved before it back:
    // the torrent is whole at its old place.
    @Test func aFailedMoveRollsBack() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let source = ContentLocation(metainfo: content.metainfo, directory: content.directory.path)
        let before = contents(source)
        // "b" is a file where the second file's folder must go.
        try content.directory.write("elsewhere/content/b", [0])
        let target = ContentLocation(metainfo: content.metainfo, directory: content.directory.path + "/elsewhere")
        let failure = DataFiles.move(
            source, to: target, from: content.directory.path, into: content.directory.path + "/elsewhere", resuming: false)
        #expect(failure != nil)
        #expect(contents(source) == before)
        #expect(!FileManager.default.fileExists(atPath: content.directory.path + "/elsewhere/content/a.bin"))
    }

    // A move interrupted after its first file (killed) is finished by running it again: the
    // file at the target is kept, the rest follow, nothing is lost; a leftover partial copy is
    // dropped.
    @Test func anInterruptedMoveIsFinishedByRunningItAgain() throws {
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let root = content.directory.path
        let source = ContentLocation(metainfo: content.metainfo, directory: root)
        let before = contents(source)
        let target = ContentLocation(metainfo: content.metainfo, directory: root + "/new")
        // As a killed copy leaves it: the first file copied into place (source still there), a
        // partial copy of the second.
        try content.directory.write("new/content/a.bin", before[0]!)
        try content.directory.write("new/content/b/c.bin" + FileMover.partialSuffix, Array(before[1]!.prefix(100)))
        let failure = DataFiles.move(source, to: target, from: root, into: root + "/new", resuming: true)
        #expect(failure == nil)
        #expect(contents(target) == before)
        #expect(contents(source).allSatisfy { $0 == nil })
        #expect(!FileManager.default.fileExists(atPath: root + "/new/content/b/c.bin" + FileMover.partialSuffix))
    }

    // Across filesystems (/tmp to /dev/shm) each file is copied whole with its mtime, then the
    // sources go.
    @Test func movesAcrossFilesystems() throws {
        guard FileManager.default.fileExists(atPath: "/dev/shm") else { return }
        let content = try TestContent()
        defer { content.directory.cleanup() }
        let shm = "/dev/shm/evtorrent-move-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: shm) }
        let source = ContentLocation(metainfo: content.metainfo, directory: content.directory.path)
        let before = contents(source)
        let states = ResumeStore.fileStates(source)
        let target = ContentLocation(metainfo: content.metainfo, directory: shm)
        #expect(DataFiles.move(source, to: target, from: content.directory.path, into: shm, resuming: false) == nil)
        #expect(contents(target) == before)
        #expect(ResumeStore.fileStates(target) == states)
        #expect(contents(source).allSatisfy { $0 == nil })
    }
}
