import Foundation

/// What this machine offers a pool: cores, memory, and GPUs with their device indices.
public enum PoolHardware {
    /// Online cores.
    public static var cores: Double { Double(ProcessInfo.processInfo.activeProcessorCount) }

    /// Physical memory in bytes.
    public static var memoryBytes: UInt64 { ProcessInfo.processInfo.physicalMemory }

    /// GPUs by model with their device indices, from `nvidia-smi` where it is installed; none
    /// otherwise (or when it fails or takes more than 10 s).
    public static func gpus() -> [String: [UInt32]] {
        guard let result = try? runCommand(["nvidia-smi", "--query-gpu=index,name", "--format=csv,noheader"], timeoutS: 10), result.status == 0 else {
            return [:]
        }
        return gpus(nvidiaSmi: String(decoding: result.stdout, as: UTF8.self))
    }

    /// GPUs in `nvidia-smi --query-gpu=index,name --format=csv,noheader` output: "0, NVIDIA H100
    /// 80GB HBM3" is device 0, an H100 (vendor and family words dropped).
    static func gpus(nvidiaSmi text: String) -> [String: [UInt32]] {
        var devices: [String: [UInt32]] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, let index = UInt32(fields[0]) else { continue }
            let words = fields[1].split(separator: " ").filter { $0 != "NVIDIA" && $0 != "Tesla" && $0 != "GeForce" }
            if let model = words.first { devices[String(model), default: []].append(index) }
        }
        return devices
    }
}
