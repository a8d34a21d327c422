import DynamicByoa
@testable import DynamicByoaPlatform
import XCTest

/// The URLSession transport against a loopback server: responses as they came (any status, no
/// redirect followed, headers and body), the overall timeout, cancellation, a refused connection.
final class URLSessionHttpTransportTests: XCTestCase {
    private var server: LoopbackServer!
    private let transport = URLSessionHttpTransport()

    override func setUp() async throws {
        server = try await LoopbackServer { method, path in
            switch path {
            case "/ok":
                return .init(status: 200, headers: ["X-Echo-Method": method], body: Data("hello".utf8))
            case "/redirect":
                return .init(status: 302, headers: ["Location": "/ok"])
            case "/teapot":
                return .init(status: 418, body: Data(#"{"error":"no"}"#.utf8))
            case "/slow":
                return .init(status: 200, delay: 5)
            default:
                return .init(status: 404)
            }
        }
    }

    override func tearDown() {
        server.stop()
    }

    func testA200ComesBackWithHeadersBodyAndURL() async throws {
        let response = try await transport.send(request: FakeRequest(url: server.baseURL + "/ok"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, Data("hello".utf8))
        XCTAssertEqual(response.headers.first { $0.name.lowercased() == "x-echo-method" }?.value, "GET")
        XCTAssertEqual(response.url, server.baseURL + "/ok")
    }

    func testAPostSendsItsMethod() async throws {
        let request = FakeRequest(url: server.baseURL + "/ok", method: .post, body: Data("{}".utf8))
        let response = try await transport.send(request: request)
        XCTAssertEqual(response.headers.first { $0.name.lowercased() == "x-echo-method" }?.value, "POST")
    }

    func testARedirectIsReturnedNotFollowed() async throws {
        let response = try await transport.send(request: FakeRequest(url: server.baseURL + "/redirect"))
        XCTAssertEqual(response.status, 302)
        XCTAssertEqual(response.url, server.baseURL + "/redirect")
    }

    func testAnErrorStatusIsAResponse() async throws {
        let response = try await transport.send(request: FakeRequest(url: server.baseURL + "/teapot"))
        XCTAssertEqual(response.status, 418)
        XCTAssertEqual(response.body, Data(#"{"error":"no"}"#.utf8))
    }

    func testTheOverallTimeoutIsTimeout() async throws {
        let started = Date()
        do {
            _ = try await transport.send(
                request: FakeRequest(url: server.baseURL + "/slow", timeoutMs: 300))
            XCTFail("expected a timeout")
        } catch HttpError.Timeout {
            XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        }
    }

    func testCancellingTheTaskCancelsTheRequest() async throws {
        let url = server.baseURL + "/slow"
        let transport = self.transport
        let call = Task { try await transport.send(request: FakeRequest(url: url)) }
        try await Task.sleep(nanoseconds: 200_000_000)
        call.cancel()
        do {
            _ = try await call.value
            XCTFail("expected a cancellation")
        } catch HttpError.Cancelled {
        }
    }

    func testARefusedConnectionIsConnect() async throws {
        let closed = try await LoopbackServer { _, _ in .init(status: 200) }
        let url = closed.baseURL + "/ok"
        closed.stop()
        try await Task.sleep(nanoseconds: 100_000_000)
        do {
            _ = try await transport.send(request: FakeRequest(url: url))
            XCTFail("expected a connection failure")
        } catch HttpError.Connect {
        }
    }
}

/// An `HttpRequest` made in Swift (the real ones come from the core): the generated class's
/// fake constructor plus overrides. Never print it (its description calls into Rust).
final class FakeRequest: HttpRequest {
    private let fakeUrl: String
    private let fakeMethod: HttpMethod
    private let fakeBody: Data
    private let fakeTimeoutMs: Int64

    init(url: String, method: HttpMethod = .get, body: Data = Data(), timeoutMs: Int64 = 5000) {
        fakeUrl = url
        fakeMethod = method
        fakeBody = body
        fakeTimeoutMs = timeoutMs
        super.init(noHandle: NoHandle())
    }

    required init(unsafeFromHandle handle: UInt64) {
        fatalError("not made from a handle")
    }

    override func url() -> String { fakeUrl }
    override func method() -> HttpMethod { fakeMethod }
    override func headers() -> [HttpHeader] {
        [HttpHeader(name: "x-dyn-request-id", value: "swift-tests")]
    }
    override func body() -> Data { fakeBody }
    override func timeoutMs() -> Int64 { fakeTimeoutMs }
    override func connectTimeoutMs() -> Int64 { min(fakeTimeoutMs, 5000) }
    override func maxResponseBytes() -> Int64 { 1 << 20 }
}
