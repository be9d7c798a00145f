import SwiftProtobuf

/// Constants of Junction wire protocol version 1 (Protocols/README.md).
public enum WireProtocol {
    /// The protocol version this code speaks.
    public static let version: UInt32 = 1
    /// The largest message a peer may send; larger ones are refused unread.
    public static let maxMessageBytes = 1 << 20
}

/// The body of an envelope: one message of the protocol.
public typealias WireBody = Junction_V1_Envelope.OneOf_Body

/// Why bytes could not be read as, or written as, a Junction message.
public enum WireError: Error, Hashable, CustomStringConvertible {
    case empty
    case tooLarge(size: Int, limit: Int)
    case malformed(detail: String)
    case unsupportedVersion(UInt32, correlationID: UInt64)
    /// The envelope carries no body, or one this version does not know.
    case unknownMessage(correlationID: UInt64)

    /// The protocol error code a reply to the sender carries.
    public var code: Junction_V1_ErrorCode {
        switch self {
        case .empty, .malformed: .malformed
        case .tooLarge: .tooLarge
        case .unsupportedVersion: .unsupportedVersion
        case .unknownMessage: .unknownMessage
        }
    }

    /// A short name for counters and logs.
    public var name: String {
        switch self {
        case .empty, .malformed: "malformed"
        case .tooLarge: "too_large"
        case .unsupportedVersion: "unsupported_version"
        case .unknownMessage: "unknown_message"
        }
    }

    /// The sender's correlation id, when the envelope was readable enough to have one.
    public var correlationID: UInt64 {
        switch self {
        case .unsupportedVersion(_, let id), .unknownMessage(let id): id
        case .empty, .tooLarge, .malformed: 0
        }
    }

    public var description: String {
        switch self {
        case .empty:
            "empty message"
        case .tooLarge(let size, let limit):
            "message of \(size) bytes is over the \(limit)-byte limit"
        case .malformed(let detail):
            "malformed message: \(detail)"
        case .unsupportedVersion(let version, _):
            "protocol version \(version) is not supported; this peer speaks version \(WireProtocol.version)"
        case .unknownMessage:
            "the envelope carries no message this protocol version knows"
        }
    }

    /// The message that tells the sender what went wrong.
    public var reply: WireMessage {
        var error = Junction_V1_ErrorReply()
        error.code = code
        error.message = description
        return WireMessage(.error(error), correlationID: correlationID)
    }
}

/// One decoded envelope: its correlation id and its body.
public struct WireMessage: Sendable, Equatable {
    public var correlationID: UInt64
    public var body: WireBody

    public init(_ body: WireBody, correlationID: UInt64 = 0) {
        self.body = body
        self.correlationID = correlationID
    }

    private static let decodingOptions: BinaryDecodingOptions = {
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        return options
    }()

    /// Decodes and checks one envelope. Never traps: bad bytes give a `WireError`.
    public init(bytes: [UInt8]) throws(WireError) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= WireProtocol.maxMessageBytes else {
            throw .tooLarge(size: bytes.count, limit: WireProtocol.maxMessageBytes)
        }
        let envelope: Junction_V1_Envelope
        do {
            envelope = try Junction_V1_Envelope(serializedBytes: bytes, options: Self.decodingOptions)
        } catch {
            throw .malformed(detail: String(describing: error))
        }
        guard envelope.protocolVersion == WireProtocol.version else {
            throw .unsupportedVersion(envelope.protocolVersion, correlationID: envelope.correlationID)
        }
        guard let body = envelope.body else {
            throw .unknownMessage(correlationID: envelope.correlationID)
        }
        self.init(body, correlationID: envelope.correlationID)
    }

    /// Encodes the envelope; fails only when it would exceed the protocol's size limit.
    public func serialized() throws(WireError) -> [UInt8] {
        var envelope = Junction_V1_Envelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.correlationID = correlationID
        envelope.body = body
        let bytes: [UInt8]
        do {
            bytes = try envelope.serializedBytes()
        } catch {
            throw .malformed(detail: String(describing: error))
        }
        guard bytes.count <= WireProtocol.maxMessageBytes else {
            throw .tooLarge(size: bytes.count, limit: WireProtocol.maxMessageBytes)
        }
        return bytes
    }

    /// The body in protobuf's canonical JSON mapping, keyed by its kind (`{"poolTable":{...}}`),
    /// for the admin endpoint's API.
    public func json() throws -> [UInt8] {
        var envelope = Junction_V1_Envelope()
        envelope.body = body
        return try envelope.jsonUTF8Bytes()
    }

    /// The whole envelope in protobuf text format, for people.
    public var text: String {
        var envelope = Junction_V1_Envelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.correlationID = correlationID
        envelope.body = body
        return envelope.textFormatString()
    }

    /// The message's kind, for logs and counters ("advertisement", "submit", ...).
    public var kind: String { body.kind }
}

extension WireBody {
    /// The protocol's name for this kind of message, as in the `.proto` field names.
    public var kind: String {
        switch self {
        case .register: "register"
        case .welcome: "welcome"
        case .advertisement: "advertisement"
        case .heartbeat: "heartbeat"
        case .dispatch: "dispatch"
        case .dispatchAck: "dispatch_ack"
        case .jobUpdate: "job_update"
        case .cancelJob: "cancel_job"
        case .goodbye: "goodbye"
        case .place: "place"
        case .submit: "submit"
        case .status: "status"
        case .cancel: "cancel"
        case .routes: "routes"
        case .pools: "pools"
        case .snapshot: "snapshot"
        case .admin: "admin"
        case .usage: "usage"
        case .placement: "placement"
        case .submitted: "submitted"
        case .jobStatus: "job_status"
        case .cancelled: "cancelled"
        case .routeTable: "route_table"
        case .poolTable: "pool_table"
        case .snapshotReply: "snapshot_reply"
        case .adminReply: "admin_reply"
        case .usageReply: "usage_reply"
        case .error: "error"
        case .event: "event"
        }
    }
}
