import ControllerCore
import Logging
import Observability
import ServiceLifecycle
import Store
import Topology
import Wire

/// A controller and, when it is given an admin address, the admin endpoint that serves its
/// metrics, JSON API and dashboard: what `junction controller` and `junction demo` both run.
public struct ControllerAssembly {
    public let controller: ControllerService
    /// Nil without an admin address.
    public let admin: AdminServer?

    /// The services to run together, the controller first.
    public var services: [any Service] { [controller] + (admin.map { [$0] } ?? []) }

    /// Binds the controller's sockets (throws when it cannot) and prepares the admin endpoint,
    /// which listens once its service runs.
    public init(
        topology: Topology, topologyPath: String, endpoints: ControllerEndpoints, configuration: ControllerConfiguration,
        store: any ControllerStore, leadership: LeadershipSettings? = nil, security: ControllerSecurity? = nil,
        maximumTopologyBytes: Int = Topology.defaultMaximumBytes, adminAddress: AdminAddress?, logger: Logger
    ) throws {
        // Metrics are kept only where something serves them.
        let export = adminAddress.map { _ in PrometheusExport(help: ControllerMetrics.help, durationBuckets: ControllerMetrics.durationBuckets) }
        let controller = try ControllerService(
            topology: topology, topologyPath: topologyPath, endpoints: endpoints, configuration: configuration, store: store,
            leadership: leadership, security: security, maximumTopologyBytes: maximumTopologyBytes, metrics: export, logger: logger
        )
        self.controller = controller
        if let adminAddress, let export {
            admin = AdminServer(address: adminAddress, source: ControllerAdmin(service: controller, export: export), logger: logger)
        } else {
            admin = nil
        }
    }
}
