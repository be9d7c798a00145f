import ArgumentParser
import ZeroMQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Endpoints given as one comma-separated list (an endpoint holds no comma, and no blank).
public func endpointList(_ text: String) -> [String] {
    text.split { $0 == "," || $0 == " " || $0 == "\t" }.map(String.init)
}

/// Checks each endpoint of a list, naming the option it came from.
public func checkEndpointList(_ endpoints: [String], option: String, role: String) throws {
    guard !endpoints.isEmpty else { throw ValidationError("\(option): name at least one endpoint (\(role))") }
    for endpoint in endpoints {
        if let problem = endpointProblem(endpoint) { throw ValidationError("\(option): \(problem) (\(role))") }
    }
    if Set(endpoints).count < endpoints.count { throw ValidationError("\(option): an endpoint is named twice") }
}

/// The CURVE keys a client or a pool agent presents to a controller that has an access file.
public struct KeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("This peer's key pair file, as junction keygen writes it (default: $JUNCTION_KEY).", valueName: "file"))
    public var key: String?

    @Option(help: ArgumentHelp("The controller's public key: 40 characters of Z85, or its .pub file (default: $JUNCTION_SERVER_KEY).", valueName: "key"))
    public var serverKey: String?

    public init() {}

    /// The keys to connect with, or nil when neither is given.
    public func curve() throws -> CurveClientKeys? {
        let environment = ProcessInfo.processInfo.environment
        let own = key ?? environment["JUNCTION_KEY"]
        let server = serverKey ?? environment["JUNCTION_SERVER_KEY"]
        guard own != nil || server != nil else { return nil }
        guard let own, let server else {
            throw ValidationError("give both --key and --server-key (or JUNCTION_KEY and JUNCTION_SERVER_KEY): a CURVE client needs its own key pair and the controller's public key")
        }
        do {
            return CurveClientKeys(serverPublicKey: try CurveKeyPair.publicKey(from: server), keys: try CurveKeyPair(contentsOfFile: own))
        } catch {
            throw ValidationError(error.description)
        }
    }
}
