import JunctionClient
import Testing
import Wire

@Suite("Requests as a command line writes them")
struct RequestTextTests {
    @Test func modelsAndCountsOrACountAlone() {
        #expect(GPUAsk(parsing: "H100:2")?.count == 2 && GPUAsk(parsing: "H100:2")?.models == ["H100"])
        #expect(GPUAsk(parsing: "A100,H100:4")?.models == ["A100", "H100"])
        #expect(GPUAsk(parsing: "3")?.count == 3 && GPUAsk(parsing: "3")?.models == [])
        for bad in ["", "H100", ":2", "H100:", "H100:2:3", "A100,,H100:1", "H100:-1", "-1", "H100:2147483648", "H100:two"] {
            #expect(GPUAsk(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func labelConstraintsAsWritten() {
        let equals = Junction_V1_LabelConstraint(parsing: "region=eu")
        #expect(equals?.key == "region" && equals?.operator == .equals && equals?.values == ["eu"])
        let oneOf = Junction_V1_LabelConstraint(parsing: "region=eu|us")
        #expect(oneOf?.operator == .in && oneOf?.values == ["eu", "us"])
        let noneOf = Junction_V1_LabelConstraint(parsing: "tier!=spot|edge")
        #expect(noneOf?.key == "tier" && noneOf?.operator == .notIn && noneOf?.values == ["spot", "edge"])
        // A value may hold "=": only the first one splits.
        #expect(Junction_V1_LabelConstraint(parsing: "query=a=b")?.values == ["a=b"])
        for bad in ["", "region", "=eu", "region=", "region!=", "!=eu", "region=|"] {
            #expect(Junction_V1_LabelConstraint(parsing: bad) == nil, "\(bad)")
        }
    }
}
