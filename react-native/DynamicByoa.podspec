require "json"

# The iOS side of @dynamic-byoa/react-native: the TurboModule (ios/DynamicByoa.{h,mm}, over
# ios/DynamicByoaModuleImpl.swift), the Swift package's sources and the Rust core as a static
# xcframework. RN autolinking finds this file at the package root.
#
# Vendored at pack time (not in git; the packaging script copies them from bindings/swift and
# scripts/build-xcframework.sh's output):
#   ios/vendor/DynamicByoa/DynamicByoa.swift              the uniffi-generated API
#   ios/vendor/DynamicByoaPlatform/*.swift                Keychain, Secure Enclave, URLSession, ...
#   ios/DynamicByoaFFI.xcframework                        the core, headers in Headers/DynamicByoaFFI/
package = JSON.parse(File.read(File.join(__dir__, "package.json")))

Pod::Spec.new do |s|
  # The pod's Swift module is `DynamicByoa`: the generated API, the platform adapters and the
  # module's Swift are one module here, and the adapters' `DynamicByoa.Logger` qualifiers still
  # name it. (The Objective-C class of the same name is in a private header, so Swift never
  # sees a type shadowing its module.)
  s.name         = "DynamicByoa"
  s.version      = package["version"]
  s.summary      = package["description"]
  s.license      = package["license"]
  # From package.json, as the create-react-native-library template does. Only `pod spec lint`
  # needs them: autolinking installs the pod from its :path, never from `source`.
  repository     = package["repository"]
  s.homepage     = package["homepage"]
  s.authors      = package["author"]
  s.source       = { :git => (repository.is_a?(Hash) ? repository["url"] : repository).to_s, :tag => "v#{s.version}" }

  # React Native 0.86's floor (min_ios_version_supported), and the Swift package's.
  s.platforms    = { :ios => "15.1" }

  s.source_files = "ios/**/*.{h,m,mm,swift}"
  # DynamicByoa.h imports the codegen header, which is C++: kept out of the module's umbrella
  # header, which Swift reads.
  s.private_header_files = "ios/**/*.h"
  # Applies to every file attribute above. Without it, the globs also match the xcframework's
  # Headers/DynamicByoaFFI/DynamicByoaFFI.h once per slice, which CocoaPods would add to the
  # target as headers (under use_frameworks!, "Multiple commands produce ... DynamicByoaFFI.h");
  # the xcframework's headers reach the compiler through vendored_frameworks alone. `/**/*`
  # matches what is INSIDE the xcframework only, so vendored_frameworks (which the exclusion
  # applies to as well) still names the xcframework itself. ios/build is a local Xcode build.
  # scripts/swift/react-native/check_podspec.rb checks all three with CocoaPods' own matching.
  s.exclude_files = ["ios/DynamicByoaFFI.xcframework/**/*", "ios/build/**/*"]

  # The Rust core. CocoaPods copies the chosen slice's Headers/ to
  # ${PODS_XCFRAMEWORKS_BUILD_DIR}/DynamicByoaFFI/Headers, a folder of this xcframework's own,
  # so the module-map collision of two xcframeworks sharing Xcode's include/ folder does not
  # arise here; the map sits in Headers/DynamicByoaFFI/, where clang finds the module
  # `DynamicByoaFFI` that the generated Swift imports.
  s.vendored_frameworks = "ios/DynamicByoaFFI.xcframework"
  # The core's random source on iOS (getrandom: SecRandomCopyBytes); Keychain and Secure
  # Enclave for the adapters.
  s.frameworks = "Security"

  # The generated Swift is compiled in Swift 5 language mode, as the Swift package compiles it
  # (uniffi's output is not yet clean under Swift 6's strict concurrency); a pod has one mode
  # for all its Swift. The hand-written Swift is written to Swift 6's rules.
  s.swift_version = "5.0"

  # Set before install_modules_dependencies, which merges its settings into these.
  s.pod_target_xcconfig = {
    "DEFINES_MODULE" => "YES",
    "HEADER_SEARCH_PATHS" => "\"${PODS_XCFRAMEWORKS_BUILD_DIR}/DynamicByoaFFI/Headers\"",
    "SWIFT_INCLUDE_PATHS" => "$(inherited) \"${PODS_XCFRAMEWORKS_BUILD_DIR}/DynamicByoaFFI/Headers\"",
  }

  # React Native's helper: React-Core, ReactCodegen (the DynamicByoaSpec header), the
  # TurboModule and JSI pods, and the C++ flags.
  install_modules_dependencies(s)
end
