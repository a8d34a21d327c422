#if os(macOS)
    import Foundation

    /// `byoa emulator` in a child process (macOS only: iOS has no processes to spawn), serving
    /// one environment whose external JWTs are checked against `jwksURL`.
    ///
    /// The binary is `$BYOA_BIN`, else `target/debug/byoa` of the repository this file is in
    /// (build it with `cargo build -q --workspace --all-targets`).
    final class EmulatorProcess {
        let process: Process
        /// `http://127.0.0.1:PORT/api/v0`: the client's `apiBaseUrl`.
        let baseURL: String

        init(environmentId: String, issuer: String, jwksURL: String) async throws {
            let binary =
                ProcessInfo.processInfo.environment["BYOA_BIN"]
                ?? Self.repositoryRoot.appendingPathComponent("target/debug/byoa").path
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw EmulatorError.missingBinary(binary)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "emulator", "--environment-id", environmentId, "--issuer", issuer,
                "--jwks-url", jwksURL, "--port", "0",
            ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            // "Dynamic emulator listening on http://127.0.0.1:PORT/api/v0"
            let marker = "Dynamic emulator listening on "
            var found: String?
            for try await line in output.fileHandleForReading.bytes.lines {
                if let range = line.range(of: marker) {
                    found = String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
                    break
                }
            }
            guard let found else {
                process.terminate()
                throw EmulatorError.noAddress
            }
            self.process = process
            baseURL = found
        }

        func stop() {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }

        deinit {
            stop()
        }

        /// The repository: six path components up from this file.
        static var repositoryRoot: URL {
            URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent()  // …/Tests/DynamicByoaPlatformTests/Support
                .deletingLastPathComponent()  // …/Tests/DynamicByoaPlatformTests
                .deletingLastPathComponent()  // …/bindings/swift/Tests
                .deletingLastPathComponent()  // …/bindings/swift
                .deletingLastPathComponent()  // …/bindings
                .deletingLastPathComponent()  // the repository
        }
    }

    enum EmulatorError: Error {
        case missingBinary(String)
        case noAddress
    }
#endif
