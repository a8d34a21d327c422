import DynamicByoa
import DynamicByoaPlatform
import XCTest

/// The marker on a temporary directory (plain files: runs under `swift test` and on the
/// simulator alike).
final class FreshInstallMarkerTests: XCTestCase {
    private let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("byoa-marker-\(UUID().uuidString)", isDirectory: true)

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    func testTheFirstLaunchIsFreshOncePerEnvironment() {
        let marker = FreshInstallMarker(directory: directory)
        XCTAssertTrue(marker.checkAndMark(environmentId: "env-a"))
        XCTAssertFalse(marker.checkAndMark(environmentId: "env-a"))
        XCTAssertFalse(FreshInstallMarker(directory: directory).checkAndMark(environmentId: "env-a"))
        XCTAssertTrue(marker.checkAndMark(environmentId: "env-b"))
    }

    func testAMarkerThatCannotBeWrittenIsNotAFreshInstall() throws {
        // A file where the directory should be: the marker cannot be created.
        try Data().write(to: directory)
        let marker = FreshInstallMarker(directory: directory)
        XCTAssertFalse(marker.checkAndMark(environmentId: "env-a"))
        XCTAssertFalse(marker.checkAndMark(environmentId: "env-a"))
    }

    func testWithFreshInstallCopiesTheConfiguration() {
        let config = ClientConfig(
            environmentId: "2762a57b-faa4-41ce-9f16-abff9300e2c9", apiBaseUrl: "http://127.0.0.1:1/api/v0",
            requestTimeoutMs: 5000, bindSessionKey: false)
        let fresh = config.withFreshInstall(true)
        XCTAssertTrue(fresh.freshInstall)
        XCTAssertEqual(fresh.withFreshInstall(false), config)
    }
}
