import Foundation
import ReactorTesting
import Testing

@testable import Reactor

@Suite struct FileSystemTests {
    // The atomic write replaces the file whole and leaves no temporary file behind.
    @Test func writeAtomicallyReplacesAndCleansUp() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let target = directory.path + "/out.torrent"
        try FileContents.writeAtomically(Array("first".utf8), to: target)
        try FileContents.writeAtomically(Array("second".utf8), to: target)
        #expect(try FileContents.read(target, limit: 100) == Array("second".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.torrent"])
    }

    // A file written whole is data to its end; cut short and extended again by a later write, its
    // data stops where it was cut (the hole the truncation left).
    @Test func dataPrefixFindsTheHoleATruncationLeft() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/file.bin"
        try directory.write("file.bin", [UInt8](repeating: 7, count: 1 << 20))
        #expect(FileContents.dataPrefix(path) == 1 << 20)
        #expect(truncate(path, 256 << 10) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: 900 << 10)
        try handle.write(contentsOf: Data(repeating: 7, count: 124 << 10))
        try handle.close()
        #expect(try FileStatus.of(path)?.size == 1 << 20)
        #expect(FileContents.dataPrefix(path) == 256 << 10)
        #expect(FileContents.dataPrefix(directory.path + "/missing") == nil)
    }

    // Errors name the operation and the path, and a read over the limit is refused.
    @Test func errorsNameOperationAndPath() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        #expect(throws: SystemError.self) { try FileContents.read(directory.path + "/missing", limit: 10) }
        do {
            _ = try FileContents.read(directory.path + "/missing", limit: 10)
        } catch {
            #expect(error.isNotFound)
            #expect(error.description == "open \(directory.path)/missing: No such file or directory")
        }
        try directory.write("big", [UInt8](repeating: 1, count: 11))
        #expect(throws: SystemError.self) { try FileContents.read(directory.path + "/big", limit: 10) }
        #expect(throws: SystemError.self) {
            try FileContents.writeAtomically([1], to: directory.path + "/no/such/dir/file")
        }
    }

    // The walker finds nested and hidden files, follows links, and survives a link loop.
    @Test func walkerFindsFilesAndSurvivesLinkLoops() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("a/b/c.txt", [1, 2, 3])
        try directory.write(".hidden", [])
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/a/b/loop", withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/dangling", withDestinationPath: "nowhere")
        let found = try DirectoryWalker.files(under: directory.path)
        let names = found.map { $0.components.joined(separator: "/") }.sorted()
        #expect(names == [".hidden", "a/b/c.txt"])
        #expect(found.first { $0.components.last == "c.txt" }?.size == 3)
    }
}

/// `MappedRegion`: bytes in place, and a SIGBUS from a page that vanished caught and counted.
@Suite struct MappedRegionTests {
    @Test func mapsTheBytesAskedFor() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let bytes = patternBytes(300_000, seed: 3)
        try directory.write("data", bytes)
        let file = try ReadOnlyFile(path: directory.path + "/data")
        // An offset off the page grid.
        let region = try MappedRegion(file, offset: 12_345, length: 200_000)
        #expect(Array(region.bytes) == Array(bytes[12_345..<212_345]))
        #expect(try file.currentSize() == 300_000)
    }

    @Test func vanishedPagesReadAsZerosAndAreCounted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try directory.write("data", patternBytes(1 << 20, seed: 4))
        let file = try ReadOnlyFile(path: directory.path + "/data")
        let region = try MappedRegion(file, offset: 0, length: 1 << 20)
        #expect(truncate(directory.path + "/data", 4096) == 0)
        let before = MappedRegion.faults
        // Past the new end: without the guard this access kills the process.
        let tail = region.bytes[(1 << 20) - 100..<(1 << 20)]
        #expect(tail.allSatisfy { $0 == 0 })
        #expect(MappedRegion.faults > before)
    }
}
