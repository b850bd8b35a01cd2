import Testing

@testable import Daemon

@Suite struct FileRenamingTests {
    let names = ["album/one.bin", "album/disc/two.bin", "album/disc/three.bin", "album/discography.txt"]

    // A folder renamed renames every file below it, and only those (not a sibling sharing its prefix).
    @Test func renamesAFolder() throws {
        let renamed = try FileRenaming.rename(names, path: "album/disc", to: "CD").get()
        #expect(renamed.names == ["album/one.bin", "album/CD/two.bin", "album/CD/three.bin", "album/discography.txt"])
        #expect(renamed.from == "album/disc" && renamed.to == "album/CD")
    }

    // The top folder is the torrent's name; a single file is its own path.
    @Test func renamesTheTopAndAFile() throws {
        #expect(try FileRenaming.rename(names, path: "album", to: "Album (2024)").get().names.allSatisfy { $0.hasPrefix("Album (2024)/") })
        #expect(try FileRenaming.rename(["movie.mkv"], path: "movie.mkv", to: "film.mkv").get().names == ["film.mkv"])
        #expect(try FileRenaming.rename(names, path: "album/one.bin/", to: "1.bin").get().names[0] == "album/1.bin")
    }

    // Names that would escape or collide, and paths not in the torrent, are refused.
    @Test func refusesBadNamesAndPaths() {
        #expect(FileRenaming.rename(names, path: "album/one.bin", to: "../x") == .failure(.invalidName("../x")))
        #expect(FileRenaming.rename(names, path: "album/one.bin", to: "..") == .failure(.invalidName("..")))
        #expect(FileRenaming.rename(names, path: "album/one.bin", to: "") == .failure(.invalidName("")))
        #expect(FileRenaming.rename(names, path: "album/dis", to: "x") == .failure(.noSuchPath("album/dis")))
        #expect(FileRenaming.rename(names, path: "album/../etc", to: "x") == .failure(.noSuchPath("album/../etc")))
        #expect(FileRenaming.rename(names, path: "album/one.bin", to: "disc") == .failure(.taken("album/disc")))
        #expect(FileRenaming.rename(names, path: "album/disc/two.bin", to: "three.bin") == .failure(.taken("album/disc/three.bin")))
    }
}
