import Placement
import Testing

@Suite("GPU asks as written")
struct GPUAskTests {
    @Test func modelsAndCountsOrACountAlone() {
        #expect(GPUAsk(parsing: "H100:2")?.count == 2 && GPUAsk(parsing: "H100:2")?.models == ["H100"])
        #expect(GPUAsk(parsing: "A100,H100:4")?.models == ["A100", "H100"])
        #expect(GPUAsk(parsing: "3")?.count == 3 && GPUAsk(parsing: "3")?.models == [])
        for bad in ["", "H100", ":2", "H100:", "H100:2:3", "A100,,H100:1", "H100:-1", "-1", "H100:2147483648", "H100:two"] {
            #expect(GPUAsk(parsing: bad) == nil, "\(bad)")
        }
    }
}
