import Testing

@testable import Client

/// A recheck lane's choice between mapping and reading resident file parts, from timed runs.
@Suite struct ReadMethodChoiceTests {
    // Mapping first (the first run is a warm-up, not counted), then reading once to have both
    // costs, then the cheaper, with the other tried every `probeEvery` runs.
    @Test func triesBothThenKeepsTheCheaperAndProbesTheOther() {
        var choice = ReadMethodChoice()
        for _ in 0..<2 {
            let maps = choice.nextMaps()
            #expect(maps)
            choice.record(mapped: true, bytes: 1_000, nanoseconds: 1_300)
        }
        let reads = !choice.nextMaps()
        #expect(reads)
        choice.record(mapped: false, bytes: 1_000, nanoseconds: 1_100)
        var picks: [Bool] = []
        for _ in 0..<(2 * ReadMethodChoice.probeEvery) { picks.append(choice.nextMaps()) }
        // Reading is cheaper: two probes of mapping in twice `probeEvery` runs, the rest reads.
        #expect(picks.filter { $0 }.count == 2)
        #expect(picks.filter { !$0 }.count == 2 * ReadMethodChoice.probeEvery - 2)
    }

    // The warm-up run is not counted; costs are smoothed: one slow run does not flip the choice,
    // a lasting change does.
    @Test func followsALastingChangeNotOneSample() {
        var choice = ReadMethodChoice()
        choice.record(mapped: true, bytes: 1_000, nanoseconds: 9_000)  // the warm-up
        #expect(choice.mappedCost == nil)
        choice.record(mapped: true, bytes: 1_000, nanoseconds: 1_000)
        choice.record(mapped: false, bytes: 1_000, nanoseconds: 1_200)
        choice.record(mapped: true, bytes: 1_000, nanoseconds: 1_300)  // one slow mapped run
        #expect(choice.mappedCost! < choice.readCost!)
        for _ in 0..<3 { choice.record(mapped: true, bytes: 1_000, nanoseconds: 1_600) }
        #expect(choice.mappedCost! > choice.readCost!)
        // Empty or untimed runs teach nothing.
        let before = choice.readCost
        choice.record(mapped: false, bytes: 0, nanoseconds: 5_000)
        choice.record(mapped: false, bytes: 1_000, nanoseconds: 0)
        #expect(choice.readCost == before)
    }
}
