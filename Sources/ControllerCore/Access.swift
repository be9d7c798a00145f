/// Who may do what: each pool key bound to the pool ids it may register as, each client key
/// with a role. Keys are known here by the names the operator gave them.
public struct AccessPolicy: Sendable, Hashable {
    /// What a client key may do.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        /// Read-only requests: placements without holding, status, routes, pools, snapshots.
        case observer
        /// An observer that also submits jobs and cancels its own.
        case submit
        /// Everything: any job, link changes, reloads.
        case `operator`
    }

    /// Pool key name to the pool ids it may register as.
    public var pools: [String: Set<String>]
    /// Client key name to its role.
    public var clients: [String: Role]
    /// Client key name to its tenant, for keys the access file gives one: jobs and their usage
    /// are the tenant's.
    public var tenants: [String: String]

    public init(pools: [String: Set<String>] = [:], clients: [String: Role] = [:], tenants: [String: String] = [:]) {
        self.pools = pools
        self.clients = clients
        self.tenants = tenants
    }
}

extension ControllerCore {
    /// Why `caller` may not make `request`, or nil when it may (or when nothing is enforced).
    func refusal(of request: ClientRequest, from caller: String?) -> ControllerError? {
        guard let access = configuration.access else { return nil }
        guard let caller, let role = access.clients[caller] else {
            return ControllerError(.unauthorized, "the key \(caller.map { "\"\($0)\"" } ?? "used") is not a client key of this controller")
        }
        let needed = request.neededRole
        let ranks: [AccessPolicy.Role] = [.observer, .submit, .operator]
        guard ranks.firstIndex(of: role)! >= ranks.firstIndex(of: needed)! else {
            return ControllerError(.unauthorized, "\(caller) has the \(role.rawValue) role; this request needs \(needed.rawValue)")
        }
        if role == .submit, case .cancel(let id) = request, let owner = jobs[id]?.spec.owner, owner != caller {
            return .notYours(id, caller: caller)
        }
        return nil
    }

    /// The owner a caller's job queries are limited to: a submit key sees only its own jobs.
    func ownJobsOnly(_ caller: String?) -> String? {
        guard let caller, configuration.access?.clients[caller] == .submit else { return nil }
        return caller
    }

    /// Whether `caller` may register as `pool`, when keys are enforced.
    func mayRegister(_ pool: String, caller: String?) -> Bool {
        guard let access = configuration.access else { return true }
        guard let caller, let allowed = access.pools[caller] else { return false }
        return allowed.contains(pool)
    }
}

extension ControllerError {
    /// A submit key asked about a job another key submitted.
    public static func notYours(_ id: String, caller: String) -> ControllerError {
        ControllerError(.unauthorized, "\(id) was submitted by another key; \(caller) has the submit role and sees and cancels only its own jobs")
    }
}

extension ClientRequest {
    /// The least role that may make this request.
    var neededRole: AccessPolicy.Role {
        switch self {
        case .place, .status, .routes, .pools, .snapshot, .usage, .invalid, .unexpected: .observer
        case .submit, .cancel: .submit
        case .reloadTopology, .setLink: .operator
        }
    }
}
