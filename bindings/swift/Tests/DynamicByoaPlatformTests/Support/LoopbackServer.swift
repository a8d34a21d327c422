import Foundation
import Network

/// A tiny HTTP/1.1 server on 127.0.0.1 for the tests: reads a request head, answers with what
/// the handler returns (optionally after a delay) and closes the connection. Request bodies are
/// not read.
final class LoopbackServer: @unchecked Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: Data = Data()
        /// Seconds to wait before answering (for timeout and cancellation tests).
        var delay: TimeInterval = 0

        var bytes: Data {
            var head = "HTTP/1.1 \(status) Test\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
                head += "\(name): \(value)\r\n"
            }
            head += "\r\n"
            return Data(head.utf8) + body
        }
    }

    typealias Handler = @Sendable (_ method: String, _ path: String) -> Response

    // @unchecked: the listener is only touched on `queue` after start, and `stop()` is idempotent.
    private let listener: NWListener
    private let queue: DispatchQueue
    let port: UInt16

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(handler: @escaping Handler) async throws {
        let parameters = NWParameters.tcp
        parameters.requiredLocalEndpoint = NWEndpoint.hostPort(host: .ipv4(.loopback), port: .any)
        let listener = try NWListener(using: parameters)
        let queue = DispatchQueue(label: "xyz.dynamic.byoa.tests.loopback")
        listener.newConnectionHandler = { connection in
            connection.start(queue: queue)
            LoopbackServer.serve(connection, queue: queue, handler: handler, buffer: Data())
        }
        let once = ResumeOnce()
        port = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<UInt16, Error>) in
            listener.stateUpdateHandler = { state in
                switch state {
                case .ready:
                    if once.claim() { continuation.resume(returning: listener.port?.rawValue ?? 0) }
                case .failed(let error):
                    if once.claim() { continuation.resume(throwing: error) }
                default:
                    break
                }
            }
            listener.start(queue: queue)
        }
        self.listener = listener
        self.queue = queue
    }

    func stop() {
        listener.cancel()
    }

    private static func serve(
        _ connection: NWConnection, queue: DispatchQueue, handler: @escaping Handler, buffer: Data
    ) {
        connection.receive(minimumIncompleteLength: 1, maximumLength: 65536) {
            data, _, isComplete, error in
            var buffer = buffer
            if let data {
                buffer.append(data)
            }
            guard let end = buffer.range(of: Data("\r\n\r\n".utf8)) else {
                if isComplete || error != nil {
                    connection.cancel()
                } else {
                    LoopbackServer.serve(connection, queue: queue, handler: handler, buffer: buffer)
                }
                return
            }
            let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
            let requestLine = head.components(separatedBy: "\r\n").first ?? ""
            let parts = requestLine.split(separator: " ").map(String.init)
            let response = handler(parts.first ?? "", parts.count > 1 ? parts[1] : "/")
            let bytes = response.bytes
            queue.asyncAfter(deadline: .now() + response.delay) {
                connection.send(
                    content: bytes,
                    completion: .contentProcessed { _ in
                        connection.cancel()
                    })
            }
        }
    }
}

/// Lets exactly one caller through (a continuation must be resumed once).
final class ResumeOnce: @unchecked Sendable {
    // @unchecked: `done` is only read and written under `lock`.
    private let lock = NSLock()
    private var done = false

    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done {
            return false
        }
        done = true
        return true
    }
}
