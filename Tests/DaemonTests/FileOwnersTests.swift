import Testing

@testable import Daemon

@Suite struct FileOwnersTests {
    // A path claimed is owned until its owner releases it; another torrent releasing it changes
    // nothing, and a claim moves it.
    @Test func claimsAndReleasesByOwner() {
        var owners = FileOwners()
        owners.claim("/data/a.bin", for: 1)
        owners.claim("/data/dir/b.bin", for: 2)
        #expect(owners.owner(of: "/data/a.bin") == 1 && owners.owner(of: "/data/dir/b.bin") == 2)
        #expect(owners.owner(of: "/data/a.bin.part") == nil && owners.owner(of: "/data/dir") == nil)
        owners.release("/data/a.bin", from: 2)
        #expect(owners.owner(of: "/data/a.bin") == 1)
        owners.release("/data/a.bin", from: 1)
        #expect(owners.owner(of: "/data/a.bin") == nil && owners.count == 1)
        owners.claim("/data/dir/b.bin", for: 3)
        #expect(owners.owner(of: "/data/dir/b.bin") == 3)
    }
}
