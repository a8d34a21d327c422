import DynamicByoa
import os

/// The core's `Logger` over the unified logging system (`os.Logger`): lines appear in Console and
/// `log stream` under `subsystem`, category `core`, at the matching OS level. The core puts no
/// token in any line and scrubs every message; they still name user ids, so messages are
/// `.private` (shown as `<private>` outside a debugging session) unless `publicMessages` is true.
///
///     OSLogLogger.install(level: .info)
public final class OSLogLogger: DynamicByoa.Logger, @unchecked Sendable {
    // @unchecked: only immutable state; os.Logger is thread-safe.
    private let osLog: os.Logger
    private let publicMessages: Bool

    public init(subsystem: String = "xyz.dynamic.byoa", publicMessages: Bool = false) {
        self.osLog = os.Logger(subsystem: subsystem, category: "core")
        self.publicMessages = publicMessages
    }

    /// Registers a logger for the process (`setLogger`); `setLogger(logger: nil, level: .error)`
    /// turns logging off again.
    public static func install(
        level: LogLevel = .info, subsystem: String = "xyz.dynamic.byoa", publicMessages: Bool = false
    ) {
        setLogger(
            logger: OSLogLogger(subsystem: subsystem, publicMessages: publicMessages), level: level)
    }

    public func log(level: LogLevel, target: String, message: String) {
        let osType: OSLogType
        switch level {
        case .error: osType = .error
        case .warn: osType = .default
        case .info: osType = .info
        case .debug, .trace: osType = .debug
        }
        if publicMessages {
            osLog.log(level: osType, "\(target, privacy: .public): \(message, privacy: .public)")
        } else {
            osLog.log(level: osType, "\(target, privacy: .public): \(message, privacy: .private)")
        }
    }
}
