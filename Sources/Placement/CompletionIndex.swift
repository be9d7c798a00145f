import Foundation

/// Pools grouped by speed and queue wait, so that a completion-time decision visits the groups
/// in order of their lower bound (queue wait + runtime / speed) and stops once a group cannot
/// beat what it has found, instead of scanning every pool.
///
/// Groups are powers of two: a pool moves between groups in constant time when its queue wait
/// or speed changes, and nothing is ever re-sorted.
struct CompletionIndex: Sendable {
    private(set) var members: [[Int32]] = []
    /// Per group, the least queue wait and the greatest speed of its range.
    private(set) var queueFloor: [Double] = []
    private(set) var speedCeiling: [Double] = []
    private var groupOfKey: [Int: Int] = [:]
    private var groupOfPool: [Int32] = []
    private var positionOfPool: [Int32] = []

    private static func key(queue: Double, speed: Double) -> (key: Int, queueFloor: Double, speedCeiling: Double) {
        let queueStep = queue < 1 ? 0 : min(40, Int(log2(queue)) + 1)
        let speedStep = max(-64, min(64, Int((log2(max(speed, 1e-9)) * 4).rounded(.down))))
        let floor = queueStep == 0 ? 0 : pow(2, Double(queueStep - 1))
        return (queueStep * 256 + speedStep + 128, floor, pow(2, Double(speedStep + 1) / 4))
    }

    /// Puts a pool (new or changed) in the group its queue wait and speed fall in.
    mutating func place(_ pool: Int, queue: Double, speed: Double) {
        while groupOfPool.count <= pool {
            groupOfPool.append(-1)
            positionOfPool.append(-1)
        }
        let (key, floor, ceiling) = Self.key(queue: queue, speed: speed)
        let group: Int
        if let known = groupOfKey[key] {
            group = known
        } else {
            group = members.count
            groupOfKey[key] = group
            members.append([])
            queueFloor.append(floor)
            speedCeiling.append(ceiling)
        }
        let current = Int(groupOfPool[pool])
        guard current != group else { return }
        if current >= 0 {
            let position = Int(positionOfPool[pool])
            let moved = members[current].removeLast()
            if moved != Int32(pool) {
                members[current][position] = moved
                positionOfPool[Int(moved)] = Int32(position)
            }
        }
        groupOfPool[pool] = Int32(group)
        positionOfPool[pool] = Int32(members[group].count)
        members[group].append(Int32(pool))
    }

    /// Non-empty groups in order of their lower bound for a job of `runtime` reference seconds.
    func groups(runtime: Double) -> [(bound: Double, group: Int)] {
        members.indices.compactMap { group in
            members[group].isEmpty ? nil : (queueFloor[group] + runtime / speedCeiling[group], group)
        }.sorted { $0.bound < $1.bound }
    }
}
