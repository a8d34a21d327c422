# Evaluates react-native/DynamicByoa.podspec as `pod install` would, with a STUB of CocoaPods'
# `Pod::Spec` (no CocoaPods gem is packaged for Debian; a stub records every attribute the
# podspec sets, nothing more), and React Native's REAL `install_modules_dependencies` from
# node_modules/react-native/scripts/react_native_pods.rb run against it. Then checks what the
# podspec declares: its paths exist in the package (the vendored ones only when the packaging
# scripts have run; otherwise a note says so), the files source_files, private_header_files and
# vendored_frameworks name once exclude_files is applied, matched as CocoaPods matches them (with
# the xcframework present: none of its per-slice headers is a pod header, and the xcframework is
# still vendored), and the settings the module relies on survive React Native's helper (which
# merges into pod_target_xcconfig).
#
#   ruby check_podspec.rb PACKAGE_DIR [--require-vendored]
# Prints one line per check; exits 1 on any failure.
require "json"

package_dir = File.expand_path(ARGV.fetch(0))
require_vendored = ARGV.include?("--require-vendored")

module Pod
  # STUB of Pod::Specification: records attributes; `to_hash` is what RN's helper reads.
  class Spec
    attr_reader :attributes, :dependencies

    def initialize
      @attributes = {}
      @dependencies = []
      yield self if block_given?
      Pod.last_spec = self
    end

    def dependency(name, *requirements)
      @dependencies << [name, *requirements]
    end

    # The real class reads these two back (the root attributes); all others are write-only.
    def name = @attributes["name"]
    def version = @attributes["version"]

    def to_hash
      @attributes.merge("dependencies" => @dependencies)
    end

    def method_missing(name, *args)
      key = name.to_s
      return super unless key.end_with?("=") && args.length == 1

      @attributes[key.chomp("=")] = args.first
    end

    def respond_to_missing?(name, include_private = false)
      name.to_s.end_with?("=") || super
    end
  end

  # React Native's scripts print through Pod::UI.
  module UI
    def self.puts(*) = nil
    def self.warn(*) = nil
    def self.info(*) = nil
  end

  class << self
    attr_accessor :last_spec
  end
end

failures = []
checks = 0
check = lambda do |ok, message|
  checks += 1
  if ok
    puts "podspec: ok: #{message}"
  else
    failures << message
    puts "podspec: FAILED: #{message}"
  end
end

rn_pods = File.join(package_dir, "node_modules", "react-native", "scripts", "react_native_pods.rb")
abort "podspec: #{rn_pods} is missing: run npm ci in react-native/ first" unless File.file?(rn_pods)
# react_native_pods.rb requires the cocoapods gem at load time (for autolinking, unused here):
# an empty stand-in satisfies the require.
require "tmpdir"
stub_dir = Dir.mktmpdir("byoa-podspec-")
File.write(File.join(stub_dir, "cocoapods.rb"), "# stub: see check_podspec.rb\n")
$LOAD_PATH.unshift(stub_dir)
require rn_pods

podspec = File.join(package_dir, "DynamicByoa.podspec")
Dir.chdir(package_dir) { eval(File.read(podspec), binding, podspec) } # rubocop:disable Security/Eval
spec = Pod.last_spec
check.call(!spec.nil?, "DynamicByoa.podspec evaluates to a Pod::Spec (with RN's install_modules_dependencies)")
exit 1 if spec.nil?
attributes = spec.attributes
package = JSON.parse(File.read(File.join(package_dir, "package.json")))

check.call(attributes["name"] == "DynamicByoa", "name DynamicByoa (the Swift module the ObjC++ imports as DynamicByoa-Swift.h)")
check.call(attributes["version"] == package["version"], "version #{attributes["version"].inspect} from package.json")
check.call(attributes["platforms"] == { ios: "15.1" }, "platforms iOS 15.1 (React Native 0.86's floor)")
check.call(!attributes["swift_version"].to_s.empty?, "swift_version #{attributes["swift_version"].inspect}")
%w[homepage authors].each do |key|
  puts "podspec: note: #{key} is empty (package.json has none); only pod spec lint needs it" if attributes[key].to_s.empty?
end

# The files a pattern attribute names, matched as CocoaPods matches them (its
# Sandbox::PathList#relative_glob, through which FileAccessor reads source_files,
# private_header_files and vendored_frameworks, each with the spec's exclude_files): not
# Dir.glob, but File.fnmatch (FNM_CASEFOLD | FNM_PATHNAME) of the pattern against the list of
# the pod's files (and directories, for vendored_frameworks), with each {a,b} set expanded and
# each "/**/" also tried as "/"; a pattern naming a directory first gets the attribute's
# directory pattern ("**/*" for exclude_files); a path equal to a pattern matches as it is; the
# exclude_files matches are then removed. The list is ios/'s entries only (every pattern of
# this podspec is under ios/, checked below): listing the whole package would walk node_modules.
pod_entries = Dir.glob("ios/**/*", File::FNM_DOTMATCH, base: package_dir)
                 .reject { |path| %w[. ..].include?(File.basename(path)) }
pod_dirs, pod_files = pod_entries.partition { |path| File.directory?(File.join(package_dir, path)) }
expand_sets = lambda do |pattern|
  set = pattern[/\{[^{}]*\}/]
  set ? set[1..-2].split(",", -1).flat_map { |choice| expand_sets.call(pattern.sub(set, choice)) } : [pattern]
end
pod_glob = lambda do |patterns, exclude: [], dir_pattern: nil, include_dirs: false|
  list = include_dirs ? pod_files + pod_dirs : pod_files
  found = Array(patterns).flat_map do |pattern|
    next [pattern] if list.include?(pattern)

    if dir_pattern && pod_dirs.any? { |dir| dir.casecmp?(pattern.chomp("/")) }
      pattern = "#{pattern.chomp("/")}/#{dir_pattern}"
    end
    alternatives = expand_sets.call(pattern.gsub("/**/", "{/**/,/}"))
    list.select { |path| alternatives.any? { |p| File.fnmatch(p, path, File::FNM_CASEFOLD | File::FNM_PATHNAME) } }
  end.uniq
  excluded = exclude.empty? ? [] : pod_glob.call(exclude, dir_pattern: "**/*", include_dirs: include_dirs)
  found - excluded
end
sources = Array(attributes["source_files"])
excludes = Array(attributes["exclude_files"])
patterns = sources + Array(attributes["private_header_files"]) + excludes + Array(attributes["vendored_frameworks"])
check.call(patterns.all? { |pattern| pattern.start_with?("ios/") }, "every file pattern is under ios/ (#{patterns.length} patterns)")
matched = pod_glob.call(sources, exclude: excludes)

# Every tracked file of ios/ is covered.
committed = %w[ios/DynamicByoa.h ios/DynamicByoa.mm ios/DynamicByoaModuleImpl.swift]
committed.each do |path|
  check.call(matched.include?(path), "source_files #{sources.inspect} include #{path}")
end
private_headers = pod_glob.call(attributes["private_header_files"], exclude: excludes)
check.call(private_headers.include?("ios/DynamicByoa.h"),
           "ios/DynamicByoa.h is a private header (it imports C++; Swift reads the umbrella header)")

vendored_swift = %w[ios/vendor/DynamicByoa/DynamicByoa.swift] +
                 Dir.glob(File.join(package_dir, "..", "bindings", "swift", "Sources", "DynamicByoaPlatform", "*.swift"))
                    .map { |f| "ios/vendor/DynamicByoaPlatform/#{File.basename(f)}" }.sort
xcframework = Array(attributes["vendored_frameworks"])
check.call(xcframework == ["ios/DynamicByoaFFI.xcframework"], "vendored_frameworks #{xcframework.inspect}")
# The vendored Swift (sources: packaging copies them anywhere) and the xcframework (a binary: only
# a Mac builds it) are judged apart, so a package with its sources vendored and no binary yet is
# reported, not failed, unless --require-vendored.
present_swift = vendored_swift.select { |path| File.exist?(File.join(package_dir, path)) }
if present_swift.length == vendored_swift.length
  vendored_swift.each { |path| check.call(matched.include?(path), "source_files include vendored #{path}") }
elsif present_swift.empty? && !require_vendored
  puts "podspec: note: the vendored Swift is absent (ios/vendor/**/*.swift): the packaging script " \
       "has not run; its paths are checked when it has"
else
  check.call(false, "vendored Swift missing: #{(vendored_swift - present_swift).join(", ")}")
end
if File.exist?(File.join(package_dir, xcframework.first.to_s))
  plist = File.join(package_dir, xcframework.first, "Info.plist")
  check.call(File.file?(plist), "#{xcframework.first}/Info.plist exists")
  # The xcframework's own headers (one Headers/DynamicByoaFFI/DynamicByoaFFI.h per slice) must
  # not become the pod's headers: CocoaPods would add each to the target, and under
  # use_frameworks! copy them all to one place ("Multiple commands produce ...").
  inside = "#{xcframework.first}/"
  slice_headers = Dir.glob("#{inside}*/Headers/**/*.h", base: package_dir)
  check.call(slice_headers.length >= 2, "the xcframework has a header in each of its #{slice_headers.length} slices (so what follows is tested)")
  check.call((slice_headers - pod_glob.call(sources)).empty? &&
             (slice_headers - pod_glob.call(attributes["private_header_files"])).empty?,
             "without exclude_files, source_files and private_header_files would match all #{slice_headers.length} of them")
  { "source_files" => matched, "private_header_files" => private_headers }.each do |name, paths|
    stray = paths.select { |path| path.start_with?(inside, "ios/build/") }
    check.call(stray.empty?, "#{name} minus exclude_files #{excludes.inspect} match nothing in #{inside} or ios/build/ " \
                             "(#{paths.length} files#{stray.empty? ? "" : "; stray: #{stray.join(", ")}"})")
  end
  # exclude_files applies to vendored_frameworks too (matched with directories): it must remove
  # what is inside the xcframework, not the xcframework.
  check.call(pod_glob.call(xcframework, exclude: excludes, include_dirs: true) == xcframework,
             "vendored_frameworks minus exclude_files is still #{xcframework.inspect}")
elsif require_vendored
  check.call(false, "vendored xcframework missing: #{xcframework.first}")
else
  puts "podspec: note: #{xcframework.first} is absent: scripts/build-xcframework.sh (macOS) and the " \
       "packaging script put it there"
end

# What the module relies on, after RN's helper merged its own settings in.
xcconfig = attributes["pod_target_xcconfig"] || {}
headers = "${PODS_XCFRAMEWORKS_BUILD_DIR}/DynamicByoaFFI/Headers"
check.call(xcconfig["HEADER_SEARCH_PATHS"].to_s.include?(headers) && xcconfig["SWIFT_INCLUDE_PATHS"].to_s.include?(headers),
           "the xcframework's headers stay on HEADER_SEARCH_PATHS and SWIFT_INCLUDE_PATHS after install_modules_dependencies")
check.call(xcconfig["DEFINES_MODULE"] == "YES", "DEFINES_MODULE (the Swift module and its -Swift.h)")
check.call(Array(attributes["frameworks"]).include?("Security"), "links Security")
needed = %w[React-Core ReactCodegen ReactCommon/turbomodule/core]
names = spec.dependencies.map(&:first)
check.call((needed - names).empty?, "install_modules_dependencies added #{needed.join(", ")} (#{names.length} dependencies)")

if failures.empty?
  puts "podspec: #{checks} checks passed"
else
  puts "podspec: #{failures.length} of #{checks} checks failed"
  exit 1
end
