/// The largest numbers a pool may state, in a topology file or from its agent: past them no real
/// pool can be, and the controller's sums and conversions could overflow.
public enum PoolLimits {
    public static let cpuCores = 1e7
    public static let memoryBytes: UInt64 = 1 << 60
    /// `memoryBytes` in GiB, as topology files give memory.
    public static let memoryGiB = Double(memoryBytes >> 30)
    public static let gpusPerModel = 65_536
    public static let gpuModels = 256
    public static let gpuModelNameBytes = 128
    /// A price per core-hour or per GPU-hour.
    public static let price = 1e9
    public static let speed = 1e6
    public static let queueWaitS = 3.2e8
    public static let processingLatencyMs = 1e7
}
