// The iOS TurboModule `DynamicByoa` (src/NativeDynamicByoa.ts): an Objective-C++ class because
// the codegen protocol and `getTurboModule:` are C++, forwarding every call to the Swift
// `DynamicByoaModuleImpl` (DynamicByoaModuleImpl.swift).
//
// A private header of the pod (see DynamicByoa.podspec): it imports the C++ codegen header, so it
// must stay out of the module's umbrella header, which Swift reads.
#import <DynamicByoaSpec/DynamicByoaSpec.h>

NS_ASSUME_NONNULL_BEGIN

// Subclasses the generated spec base for its typed emitters (emitOnAuthStateChanged:,
// emitOnLog:).
@interface DynamicByoa : NativeDynamicByoaSpecBase <NativeDynamicByoaSpec>
@end

NS_ASSUME_NONNULL_END
