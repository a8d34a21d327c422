import DynamicByoa
import Foundation

/// `HttpTransport` over `URLSession`, so that the device's proxy, VPN, user-installed CAs and
/// App Transport Security apply to the client as to the rest of the app.
///
/// What it does, per the port's rules (`docs/http-transport.md`):
/// - one request per `send`, no retries of its own; every response is returned as it came,
///   whatever its status;
/// - an ephemeral session with no cache, no cookies and no credential store;
/// - no redirects: the task delegate declines every one, so a 3xx comes back as the response
///   (the core refuses it);
/// - `timeoutMs()` bounds the whole exchange: the task is cancelled then and the call fails with
///   `HttpError.Timeout`;
/// - cancelling the Swift task (which is how the core drops a call) cancels the URLSession task
///   (`HttpError.Cancelled`).
///
/// URLSession has no timeout for the connection phase alone, so `connectTimeoutMs()` is not
/// enforced separately. A URLSession timeout is reported as `HttpError.Connect` only when its
/// metrics show that no request went out (the server never saw it, so the core may retry); when
/// that cannot be told, it is `Timeout`, which the core never retries. Response headers come in
/// URLSession's form (`allHeaderFields`: one entry per name, sorted here by name), and the body
/// is read whole.
public final class URLSessionHttpTransport: HttpTransport, @unchecked Sendable {
    // @unchecked: the only stored property is an immutable URLSession, which is thread-safe.
    private let session: URLSession

    /// A transport on `configuration` (default: `defaultConfiguration()`). Cache, cookies and
    /// the credential store are switched off on the copy it uses, whatever `configuration` says.
    public init(configuration: URLSessionConfiguration = URLSessionHttpTransport.defaultConfiguration()) {
        let configuration = configuration.copy() as! URLSessionConfiguration
        Self.harden(configuration)
        session = URLSession(
            configuration: configuration, delegate: RedirectRefusal(), delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// `URLSessionConfiguration.ephemeral` without cache, cookies or stored credentials, failing
    /// at once when offline (the core decides about retries).
    public static func defaultConfiguration() -> URLSessionConfiguration {
        let configuration = URLSessionConfiguration.ephemeral
        harden(configuration)
        return configuration
    }

    private static func harden(_ configuration: URLSessionConfiguration) {
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCredentialStorage = nil
        configuration.waitsForConnectivity = false
    }

    public func send(request: HttpRequest) async throws -> HttpResponse {
        let urlRequest = try Self.urlRequest(for: request)
        let timeoutMs = max(request.timeoutMs(), 1)
        let call = Call()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<HttpResponse, Error>) in
                let delegate = RedirectRefusal()
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    continuation.resume(
                        with: Self.outcome(
                            data: data, response: response, error: error, delegate: delegate,
                            call: call, timeoutMs: timeoutMs))
                }
                task.delegate = delegate
                call.start(task, timeoutMs: timeoutMs)
            }
        } onCancel: {
            call.cancel(.cancelled)
        }
    }

    // MARK: - Request and response

    static func urlRequest(for request: HttpRequest) throws -> URLRequest {
        guard let url = URL(string: request.url()) else {
            throw HttpError.Other(detail: "the request URL does not parse")
        }
        var urlRequest = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData,
            timeoutInterval: Double(max(request.timeoutMs(), 1)) / 1000)
        switch request.method() {
        case .get: urlRequest.httpMethod = "GET"
        case .post: urlRequest.httpMethod = "POST"
        }
        urlRequest.httpShouldHandleCookies = false
        for header in request.headers() {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        let body = request.body()
        if !body.isEmpty {
            urlRequest.httpBody = body
        }
        return urlRequest
    }

    static func outcome(
        data: Data?, response: URLResponse?, error: Error?, delegate: RedirectRefusal, call: Call,
        timeoutMs: Int64
    ) -> Result<HttpResponse, Error> {
        if let error {
            return .failure(httpError(error, delegate: delegate, call: call, timeoutMs: timeoutMs))
        }
        guard let http = response as? HTTPURLResponse else {
            return .failure(HttpError.Other(detail: "the response is not an HTTP response"))
        }
        var headers: [HttpHeader] = []
        for (name, value) in http.allHeaderFields {
            guard let name = name as? String else { continue }
            headers.append(HttpHeader(name: name, value: value as? String ?? String(describing: value)))
        }
        headers.sort { $0.name.lowercased() < $1.name.lowercased() }
        return .success(
            HttpResponse(
                status: Int32(clamping: http.statusCode), headers: headers, body: data ?? Data(),
                url: http.url?.absoluteString))
    }

    /// The port's error for a request that got no response. The detail names the URLError code,
    /// never the request's contents.
    static func httpError(_ error: Error, delegate: RedirectRefusal, call: Call, timeoutMs: Int64)
        -> HttpError
    {
        switch call.stopReason {
        case .timedOut:
            return .Timeout(detail: "no response within \(timeoutMs) ms")
        case .cancelled:
            return .Cancelled(detail: "the call was cancelled")
        case nil:
            break
        }
        guard let urlError = error as? URLError else {
            return .Other(detail: "\(type(of: error)) from URLSession")
        }
        let detail = "URLError \(urlError.code.rawValue)"
        switch urlError.code {
        case .cannotFindHost, .cannotConnectToHost, .dnsLookupFailed, .notConnectedToInternet,
            .internationalRoamingOff, .callIsActive, .dataNotAllowed:
            return .Connect(detail: detail)
        case .timedOut:
            return delegate.requestNeverStarted ? .Connect(detail: detail) : .Timeout(detail: detail)
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
            .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid,
            .clientCertificateRejected, .clientCertificateRequired,
            .appTransportSecurityRequiresSecureConnection:
            return .Tls(detail: detail)
        case .cancelled:
            return .Cancelled(detail: detail)
        default:
            return .Other(detail: detail)
        }
    }
}

/// One request in flight: the URLSession task and why it was stopped, if it was.
final class Call: @unchecked Sendable {
    enum StopReason {
        case timedOut
        case cancelled
    }

    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var task: URLSessionTask?
    private var reason: StopReason?

    func start(_ task: URLSessionTask, timeoutMs: Int64) {
        lock.lock()
        self.task = task
        let stopped = reason != nil
        lock.unlock()
        task.resume()
        if stopped {
            // Cancelled before the task existed: it completes at once as cancelled.
            task.cancel()
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(clamping: timeoutMs))) {
            [weak self] in
            self?.cancel(.timedOut)
        }
    }

    /// Stops the request; the first reason given is the one reported.
    func cancel(_ why: StopReason) {
        lock.lock()
        if reason == nil {
            reason = why
        }
        let task = self.task
        lock.unlock()
        task?.cancel()
    }

    var stopReason: StopReason? {
        lock.lock()
        defer { lock.unlock() }
        return reason
    }
}

/// Declines every redirect (the 3xx is returned as the response) and records from the task's
/// metrics whether a request ever went out.
final class RedirectRefusal: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    // @unchecked: the one mutable field is guarded by `lock`.
    private let lock = NSLock()
    private var metricsShowNoRequest = false

    func urlSession(
        _ session: URLSession, task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest
    ) async -> URLRequest? {
        nil
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask,
        didFinishCollecting metrics: URLSessionTaskMetrics
    ) {
        let started = metrics.transactionMetrics.contains { $0.requestStartDate != nil }
        lock.lock()
        metricsShowNoRequest = !started
        lock.unlock()
    }

    /// True only when metrics arrived and show that no request was sent (a connection attempt
    /// that failed or timed out); false when a request went out or it cannot be told.
    var requestNeverStarted: Bool {
        lock.lock()
        defer { lock.unlock() }
        return metricsShowNoRequest
    }
}
