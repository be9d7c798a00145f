@testable import Services
import Testing

@Suite("This machine's hardware")
struct PoolHardwareTests {
    @Test func nvidiaSmiListsDevicesByModelWithoutVendorWords() {
        let listed = """
        0, NVIDIA H100 80GB HBM3
        1, NVIDIA H100 80GB HBM3
        2, Tesla V100-SXM2-32GB
        3, NVIDIA GeForce RTX 4090
        not a device line
        """
        #expect(PoolHardware.gpus(nvidiaSmi: listed) == ["H100": [0, 1], "V100-SXM2-32GB": [2], "RTX": [3]])
        #expect(PoolHardware.gpus(nvidiaSmi: "").isEmpty)
        #expect(PoolHardware.cores >= 1 && PoolHardware.memoryBytes > 0)
    }
}
