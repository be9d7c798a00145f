/// The protocol's lower-case names for its enumerations, as logs and JSON use them.
extension Junction_V1_JobState {
    public var name: String {
        switch self {
        case .accepted: "accepted"
        case .dispatched: "dispatched"
        case .running: "running"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        default: "unknown"
        }
    }
}

extension Junction_V1_PoolState {
    public var name: String {
        switch self {
        case .declared: "declared"
        case .up: "up"
        case .down: "down"
        case .dampened: "dampened"
        default: "unknown"
        }
    }
}
