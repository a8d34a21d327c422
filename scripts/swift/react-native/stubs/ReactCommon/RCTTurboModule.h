// STUB of React Native's RCTTurboModule.h (see ../README.md): the TurboModule types a module's
// getTurboModule: and the generated spec use, as in RN 0.86.3.
#pragma once
#import <Foundation/Foundation.h>
#import <React/RCTBridgeModule.h>
#include <functional>
#include <memory>
#include <string>

#define JSI_EXPORT __attribute__((visibility("default")))

namespace facebook::react {
class TurboModule {
 public:
  virtual ~TurboModule() = default;
};
using EventEmitterCallback = std::function<void(const std::string &, id)>;
class JSI_EXPORT ObjCTurboModule : public TurboModule {
 public:
  struct InitParams {
    std::string moduleName;
    id<RCTBridgeModule> instance;
    bool isSyncModule;
  };
  explicit ObjCTurboModule(const InitParams &params);
};
} // namespace facebook::react

@interface EventEmitterCallbackWrapper : NSObject {
 @public
  facebook::react::EventEmitterCallback _eventEmitterCallback;
}
@end

@protocol RCTTurboModule <NSObject>
- (std::shared_ptr<facebook::react::TurboModule>)getTurboModule:
    (const facebook::react::ObjCTurboModule::InitParams &)params;
@optional
- (void)setEventEmitterCallback:(EventEmitterCallbackWrapper *)eventEmitterCallbackWrapper;
@end
