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
