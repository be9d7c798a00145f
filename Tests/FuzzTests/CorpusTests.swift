import Foundation
@testable import FuzzTargets
import Testing

/// Every committed fuzzing input, crashes found earlier among them, runs through its target in
/// the ordinary test run: a crash here is a regression (and fails the whole run, loudly).
@Suite("Fuzzing corpora")
struct CorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus").path

    @Test(arguments: FuzzTarget.allCases) func everyCommittedInputRunsWithoutACrash(target: FuzzTarget) throws {
        let folder = Self.corpus + "/" + target.rawValue
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(!names.isEmpty, "\(folder) holds the target's seeds")
        for name in names {
            let data = try #require(FileManager.default.contents(atPath: folder + "/" + name))
            target.run([UInt8](data))
        }
    }

    @Test func theGeneratedSeedsAreTheCommittedOnes() throws {
        for target in FuzzTarget.allCases {
            for (index, seed) in target.generatedSeeds.enumerated() {
                let file = Self.corpus + "/\(target.rawValue)/generated-\(index)"
                #expect(FileManager.default.contents(atPath: file).map([UInt8].init) == seed, "\(file) is stale: swift run junction-fuzz seeds Tests/Fuzz/Corpus")
            }
        }
    }

    @Test func aSeedConversationRunsAJobToItsEnd() {
        // The first conversation registers a pool, submits, acknowledges and reports success: the
        // fuzzer starts from inputs that reach the whole job path, not only the decoder.
        let seed = FuzzTarget.controller.generatedSeeds[0]
        let core = seed.withUnsafeBytes { ControllerScript($0).finalCore() }
        #expect(core.job("job-1")?.state == .succeeded)
    }
}
