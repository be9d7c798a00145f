import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An answer of the admin endpoint's API.
public struct AdminAnswer: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int = 200, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// An error in the shape the protocol's JSON mapping gives its own: `{"error":{"code":"ERROR_CODE_...","message":...}}`.
    public static func error(_ status: Int, _ message: String) -> AdminAnswer {
        let code = switch status {
        case 400: "ERROR_CODE_INVALID_REQUEST"
        case 404: "ERROR_CODE_NOT_FOUND"
        default: "ERROR_CODE_INTERNAL"
        }
        let body = ["error": ["code": code, "message": message]]
        let bytes = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])).map(Array.init) ?? Array("{}".utf8)
        return AdminAnswer(status: status, body: bytes)
    }
}

/// What a daemon offers its admin endpoint.
public protocol AdminSource: Sendable {
    /// The Prometheus exposition, gauges read fresh.
    func metrics() async -> [UInt8]
    /// Why the daemon is not ready to serve, or nil once it is.
    func notReady() async -> String?
    /// The answer to `GET /api/v1/<path>`, or nil when there is no such resource.
    func api(_ path: String, query: [String: String]) async -> AdminAnswer?
    /// Live events, one JSON document each, for `/api/v1/events` (server-sent events); nil when
    /// the daemon has none.
    func events() -> AsyncStream<[UInt8]>?
    /// Whether `/` serves the dashboard.
    var servesDashboard: Bool { get }
}

/// Where an admin endpoint listens, from `HOST:PORT` (`[::1]:PORT` for IPv6).
public struct AdminAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; the error says what is wrong.
    public init(parsing text: String) throws(AdminAddressError) {
        guard let colon = text.lastIndex(of: ":") else { throw AdminAddressError("\"\(text)\" has no port: write HOST:PORT, such as 127.0.0.1:7413") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw AdminAddressError("\"\(text)\" has no host: write HOST:PORT, such as 127.0.0.1:7413") }
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw AdminAddressError("\"\(text)\" has no port from 0 to 65535: write HOST:PORT, such as 127.0.0.1:7413")
        }
        self.host = host
        self.port = port
    }

    /// Whether only this machine can reach it.
    public var isLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.") }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why an admin address could not be read.
public struct AdminAddressError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The admin HTTP endpoint of a daemon: `/metrics`, `/healthz`, `/readyz`, the read-only JSON API
/// and the dashboard. It runs on its own event-loop thread, off the daemon's socket loop, and
/// reaches the daemon's state only through its `AdminSource`.
public final class AdminServer: Service, Sendable {
    private let application: Application<RouterResponder<BasicRequestContext>>
    private let group: MultiThreadedEventLoopGroup
    private let listening = Listening()
    public let address: AdminAddress

    public init(address: AdminAddress, source: any AdminSource, logger: Logger) {
        self.address = address
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let router = Router()
        Self.addRoutes(to: router, source: source)
        let listening = self.listening
        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .notice)
        application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "junction"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                let waiters = listening.state.withLock { state in
                    state.port = port
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: port) }
            },
            eventLoopGroupProvider: .shared(group),
            logger: serverLogger
        )
    }

    /// The port it listens on, once it does (a port of 0 is chosen by the system); nil when it
    /// could not listen.
    public func port() async -> Int? {
        await withCheckedContinuation { continuation in
            let known: Int?? = listening.state.withLock { state in
                if state.failed { return .some(nil) }
                if let port = state.port { return .some(port) }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// Serves until the service group shuts down.
    public func run() async throws {
        do {
            try await application.run()
        } catch {
            let waiters = listening.state.withLock { state in
                state.failed = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: nil) }
            try? await group.shutdownGracefully()
            throw AdminAddressError("cannot serve the admin endpoint on \(address): \(error)")
        }
        try? await group.shutdownGracefully()
    }

    private static func respond(_ answer: AdminAnswer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        headers[.cacheControl] = "no-store"
        return Response(status: .init(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    private static func addRoutes(to router: Router<BasicRequestContext>, source: any AdminSource) {
        router.get("/metrics") { _, _ in
            respond(AdminAnswer(contentType: "text/plain; version=0.0.4; charset=utf-8", body: await source.metrics()))
        }
        router.get("/healthz") { _, _ in
            respond(AdminAnswer(contentType: "text/plain; charset=utf-8", body: Array("ok\n".utf8)))
        }
        router.get("/readyz") { _, _ in
            if let reason = await source.notReady() {
                return respond(AdminAnswer(status: 503, contentType: "text/plain; charset=utf-8", body: Array("not ready: \(reason)\n".utf8)))
            }
            return respond(AdminAnswer(contentType: "text/plain; charset=utf-8", body: Array("ready\n".utf8)))
        }
        router.get("/api/v1/events") { _, _ -> Response in
            guard let events = source.events() else { return respond(.error(404, "this daemon publishes no events")) }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                // A comment first, so the browser sees the stream open at once.
                try await writer.write(ByteBuffer(string: ": junction events\n\n"))
                // The stream never ends by itself: a graceful shutdown ends it, or the server
                // would wait for it forever.
                let (stream, ending) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(1_000))
                let forward = Task {
                    for await event in events { ending.yield(event) }
                    ending.finish()
                }
                defer { forward.cancel() }
                try await withGracefulShutdownHandler {
                    for await event in stream {
                        var buffer = ByteBuffer(string: "data: ")
                        buffer.writeBytes(event)
                        buffer.writeString("\n\n")
                        try await writer.write(buffer)
                    }
                } onGracefulShutdown: {
                    ending.finish()
                }
                try await writer.finish(nil)
            })
        }
        router.get("/api/v1/**") { request, context -> Response in
            let path = context.parameters.getCatchAll().joined(separator: "/")
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
            guard let answer = await source.api(path, query: query) else { return respond(.error(404, "no resource /api/v1/\(path)")) }
            return respond(answer)
        }
        for (path, asset) in DashboardAssets.files {
            router.get(RouterPath(path)) { _, _ -> Response in
                guard source.servesDashboard else { return respond(.error(404, "this daemon has no dashboard")) }
                return respond(AdminAnswer(contentType: asset.contentType, body: Array(asset.body.utf8)))
            }
        }
    }
}

/// The port an admin server listens on, and who waits to learn it.
private final class Listening: Sendable {
    let state = Mutex<(port: Int?, failed: Bool, waiters: [CheckedContinuation<Int?, Never>])>((nil, false, []))
}
