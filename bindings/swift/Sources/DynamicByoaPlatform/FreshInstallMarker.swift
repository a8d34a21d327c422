import Foundation

/// Tells a first launch after (re)installing the app from a later one, for
/// `ClientConfig.freshInstall`.
///
/// Keychain items survive an uninstall, app files do not: so the marker is a file, one per
/// environment, under Application Support (`DynamicByoa/installed-<environmentId>`). When it is
/// absent the launch is a fresh install: the marker is written and `checkAndMark` returns true,
/// and the client deletes (instead of restoring) a session a previous install left in the
/// Keychain. If the marker cannot be written (protected data not yet available before the first
/// unlock), `checkAndMark` returns false and tries again on the next launch: a session is never
/// deleted on every launch because the marker could not be kept.
public struct FreshInstallMarker: Sendable {
    /// Where the marker files live.
    public let directory: URL

    /// Markers under `directory`; default Application Support/DynamicByoa.
    public init(directory: URL? = nil) {
        if let directory {
            self.directory = directory
        } else {
            let base =
                FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask).first
                ?? FileManager.default.temporaryDirectory
            self.directory = base.appendingPathComponent("DynamicByoa", isDirectory: true)
        }
    }

    /// The marker file of `environmentId`.
    public func markerURL(environmentId: String) -> URL {
        directory.appendingPathComponent("installed-\(environmentId)", isDirectory: false)
    }

    /// True exactly once per install and environment: on the first call, if the marker could be
    /// written.
    public func checkAndMark(environmentId: String) -> Bool {
        let marker = markerURL(environmentId: environmentId)
        if FileManager.default.fileExists(atPath: marker.path) {
            return false
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data().write(to: marker, options: [.atomic])
            return true
        } catch {
            return false
        }
    }
}
