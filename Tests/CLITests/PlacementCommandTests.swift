import Foundation
import Testing

@Suite("junction place and routes")
struct PlacementCommandTests {
    let abilene = topologies.appendingPathComponent("abilene.yaml").path

    @Test func placeExplainsItsChoice() async throws {
        let result = try await junction("place", "--topology", abilene, "--from", "New_York", "--cpu", "8", "--gpus", "H100:4", "--data-gb", "100", "--runtime-s", "3600", "--explain")
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("placed on sunnyvale-h100 at Sunnyvale"))
        #expect(result.output.contains("New_York → Chicago"))
        #expect(result.output.contains("chicago-a100: not 4 H100 in the pool (it has 16×A100)"))
        let oneHop = try await junction("place", "--topology", abilene, "--from", "New_York", "--cpu", "100", "--gpus", "A100:1", "--objective", "latency")
        #expect(oneHop.output.contains("(1 hop, "), "\(oneHop.output)")
    }

    @Test func placeSpeaksJSONWithTheDocumentedFields() async throws {
        let result = try await junction("place", "--topology", abilene, "--from", "New_York", "--cpu", "4", "--memory-gib", "8", "--data-gb", "10", "--runtime-s", "600", "--label", "region=us-west|us-central", "--json")
        #expect(result.status == 0, "\(result.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(json["placed"] as? Bool == true)
        let winner = try #require(json["winner"] as? [String: Any])
        for key in ["pool", "node", "path", "latency_ms", "bottleneck_gbps", "cost", "transfer_s", "queue_s", "runtime_s", "completion_s"] {
            #expect(winner[key] != nil, "winner lacks \(key)")
        }
        let candidates = try #require(json["candidates"] as? [[String: Any]])
        #expect(!candidates.isEmpty)
        let rejected = try #require(json["rejected"] as? [[String: Any]])
        #expect(rejected.contains { ($0["pool"] as? String) == "nyc-cpu" && ($0["reason"] as? String)?.contains("label region is us-east") == true })
    }

    @Test func placeFailsClearlyWhenNothingFits() async throws {
        let result = try await junction("place", "--topology", abilene, "--from", "New_York", "--gpus", "V100:1")
        #expect(result.status == 1)
        #expect(result.output.contains("sunnyvale-h100: not 1 V100 in the pool"))
        #expect(result.errors.contains("no pool can take this request"))
    }

    @Test func placeTakesAGPUShare() async throws {
        let result = try await junction("place", "--topology", abilene, "--from", "New_York", "--gpus", "H100:1", "--gpu-share", "0.25", "--runtime-s", "3600", "--json")
        #expect(result.status == 0, "\(result.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect((json["winner"] as? [String: Any])?["pool"] as? String == "sunnyvale-h100")
        let tooMuch = try await junction("place", "--topology", abilene, "--from", "New_York", "--gpus", "H100:2", "--gpu-share", "0.5")
        #expect(tooMuch.status != 0)
        #expect(tooMuch.errors.contains("--gpu-share is part of one GPU; --gpus asks for 2"))
        let whole = try await junction("place", "--topology", abilene, "--from", "New_York", "--gpu-share", "1")
        #expect(whole.status != 0)
        #expect(whole.errors.contains("--gpu-share takes a part of one GPU"))
    }

    @Test func placeShowsAsManyRunnersUpAsAsked() async throws {
        let place = ["place", "--topology", abilene, "--from", "Chicago", "--cpu", "1"]
        let none = try await JunctionProcess(place + ["--alternatives", "0"]).finish(within: 30)
        #expect(none.status == 0, "\(none.errors)")
        #expect(none.output.contains("placed on "))
        #expect(!none.output.contains("candidates"), "\(none.output)")
        for (asked, shown) in [(["--alternatives", "0"], 1), (["--alternatives", "1"], 2), ([], 4)] {
            let result = try await JunctionProcess(place + asked + ["--json"]).finish(within: 30)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            #expect((json["candidates"] as? [[String: Any]])?.count == shown, "\(asked): \(result.output)")
        }
    }

    @Test func placeRejectsBadFlags() async throws {
        let badGPUs = try await junction("place", "--topology", abilene, "--from", "New_York", "--gpus", "H100:x")
        #expect(badGPUs.status != 0)
        #expect(badGPUs.errors.contains("--gpus takes MODEL"))
        let badNode = try await junction("place", "--topology", abilene, "--from", "Atlantis")
        #expect(badNode.status != 0)
        #expect(badNode.errors.contains("ingress \"Atlantis\" is not a node"))
        let wrongCase = try await junction("place", "--topology", abilene, "--from", "chicago")
        #expect(wrongCase.status != 0)
        #expect(wrongCase.errors.contains("ingress \"chicago\" is not a node of the topology; did you mean \"Chicago\"?"), "\(wrongCase.errors)")
        // A negative number is a value out of range, named by the flag the user typed.
        for (flag, value, says) in [("--cpu", "-3", "--cpu must be a number from 0 to"), ("--runtime-s", "-5", "--runtime-s must be a number from 0 to"),
                                    ("--max-latency-ms", "-1", "--max-latency-ms must be a number from 0 to")] {
            let negative = try await junction("place", "--topology", abilene, "--from", "New_York", flag, value)
            #expect(negative.status == 64 && negative.errors.contains(says), "\(flag) \(value): \(negative.errors)")
        }
    }

    @Test func numbersOutOfRangeAreNamedNotCrashedOn() async throws {
        let cases: [([String], String)] = [
            (["status", "--timeout", "inf"], "--timeout must be above 0 and at most 86400, not inf"),
            (["pools", "--timeout", "1e300"], "--timeout must be above 0 and at most 86400, not 1e+300"),
            (["selfcheck", "--timeout", "-1"], "--timeout must be above 0 and at most 86400, not -1"),
            (["routes", "--topology", abilene, "--from", "Seattle", "--data-gb", "inf"], "--data-gb must be a number from 0 to 1000000000, not inf"),
            (["routes", "--topology", abilene, "--from", "Seattle", "--alternatives", "9"], "--alternatives must be a number from 0 to 8, not 9"),
            (["topology", "import", "--default-capacity-gbps", "inf", "network.graphml"], "--default-capacity-gbps must be above 0 and at most 1000000, not inf"),
        ]
        for (arguments, says) in cases {
            let result = try await JunctionProcess(arguments).finish(within: 30)
            #expect(result.status == 64 && result.errors.contains(says), "\(arguments): \(result.status) \(result.errors)")
        }
    }

    @Test func routesListEveryPoolWithAlternatives() async throws {
        let result = try await junction("routes", "--topology", abilene, "--from", "New_York", "--alternatives", "1", "--json")
        #expect(result.status == 0, "\(result.errors)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        #expect(rows.count == 5)
        let chicago = try #require(rows.first { $0["pool"] as? String == "chicago-a100" })
        #expect(chicago["path"] as? [String] == ["New_York", "Chicago"])
        #expect((chicago["alternatives"] as? [[String]])?.count == 1)
        let text = try await junction("routes", "--topology", abilene, "--from", "New_York", "--data-gb", "500")
        #expect(text.status == 0)
        #expect(text.output.contains("routes from New_York for 500 GB"))
    }
}
