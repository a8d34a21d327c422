// See DynamicByoa.h. Only argument conversion lives here (the codegen's C++ config struct to
// values Swift can take); everything else is DynamicByoaModuleImpl's.
#import "DynamicByoa.h"

// The Swift module's generated header: under use_frameworks! it is in the framework's folder.
#if __has_include(<DynamicByoa/DynamicByoa-Swift.h>)
#import <DynamicByoa/DynamicByoa-Swift.h>
#else
#import "DynamicByoa-Swift.h"
#endif

// An optional number of the config as an NSNumber, nil when JavaScript left the key out (the
// core's default applies).
template <typename T>
static NSNumber *_Nullable DynamicByoaOptionalNumber(const std::optional<T> &value)
{
  return value.has_value() ? @(*value) : nil;
}

@implementation DynamicByoa {
  DynamicByoaModuleImpl *_impl;
}

// The name JavaScript looks the module up by (TurboModuleRegistry.get('DynamicByoa')); the class
// has the same name, which is also how React Native finds it without a modulesProvider entry.
+ (NSString *)moduleName
{
  return @"DynamicByoa";
}

// A module that overrides init is otherwise created on the main thread (React Native assumes
// UIKit work); this one touches no UIKit.
+ (BOOL)requiresMainQueueSetup
{
  return NO;
}

- (instancetype)init
{
  if (self = [super init]) {
    // Weak: the Swift object lives as long as this module; an event racing its teardown is
    // dropped instead of keeping the module alive.
    __weak DynamicByoa *weakSelf = self;
    _impl = [[DynamicByoaModuleImpl alloc]
        initWithEmitAuthState:^(NSDictionary<NSString *, id> *payload) {
          [weakSelf emitOnAuthStateChanged:payload];
        }
        emitLog:^(NSDictionary<NSString *, id> *payload) {
          [weakSelf emitOnLog:payload];
        }];
  }
  return self;
}

- (std::shared_ptr<facebook::react::TurboModule>)getTurboModule:
    (const facebook::react::ObjCTurboModule::InitParams &)params
{
  return std::make_shared<facebook::react::NativeDynamicByoaSpecJSI>(params);
}

// RCTInvalidating, called by React Native on the module's method queue at reload or teardown.
- (void)invalidate
{
  [_impl invalidate];
}

- (void)createClient:(JS::NativeDynamicByoa::NativeClientConfig &)config
             resolve:(RCTPromiseResolveBlock)resolve
              reject:(RCTPromiseRejectBlock)reject
{
  [_impl createClient:config.environmentId()
                apiBaseUrl:config.apiBaseUrl()
                 appOrigin:config.appOrigin()
          requestTimeoutMs:DynamicByoaOptionalNumber(config.requestTimeoutMs())
        clockLeewaySeconds:DynamicByoaOptionalNumber(config.clockLeewaySeconds())
               autoRefresh:DynamicByoaOptionalNumber(config.autoRefresh())
      refreshMarginSeconds:DynamicByoaOptionalNumber(config.refreshMarginSeconds())
            bindSessionKey:DynamicByoaOptionalNumber(config.bindSessionKey())
                   resolve:resolve
                    reject:reject];
}

- (void)disposeClient:(double)handle
{
  [_impl disposeClient:handle];
}

- (void)startAuthStateEvents:(double)handle
{
  [_impl startAuthStateEvents:handle];
}

- (void)stopAuthStateEvents:(double)handle
{
  [_impl stopAuthStateEvents:handle];
}

- (void)signInWithExternalJwt:(double)handle
                  externalJwt:(NSString *)externalJwt
               externalUserId:(NSString *)externalUserId
                      resolve:(RCTPromiseResolveBlock)resolve
                       reject:(RCTPromiseRejectBlock)reject
{
  [_impl signInWithExternalJwt:handle
                   externalJwt:externalJwt
                externalUserId:externalUserId
                       resolve:resolve
                        reject:reject];
}

- (void)verifyWithExternalJwt:(double)handle
                  externalJwt:(NSString *)externalJwt
                      resolve:(RCTPromiseResolveBlock)resolve
                       reject:(RCTPromiseRejectBlock)reject
{
  [_impl verifyWithExternalJwt:handle externalJwt:externalJwt resolve:resolve reject:reject];
}

- (void)restore:(double)handle resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject
{
  [_impl restore:handle resolve:resolve reject:reject];
}

- (void)refresh:(double)handle resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject
{
  [_impl refresh:handle resolve:resolve reject:reject];
}

- (void)getAccessToken:(double)handle
         minTtlSeconds:(NSNumber *)minTtlSeconds
          forceRefresh:(BOOL)forceRefresh
               resolve:(RCTPromiseResolveBlock)resolve
                reject:(RCTPromiseRejectBlock)reject
{
  [_impl getAccessToken:handle
          minTtlSeconds:minTtlSeconds
           forceRefresh:forceRefresh
                resolve:resolve
                 reject:reject];
}

- (void)getElevatedAccessToken:(double)handle
                        scopes:(NSArray *)scopes
                       resolve:(RCTPromiseResolveBlock)resolve
                        reject:(RCTPromiseRejectBlock)reject
{
  // As it came from JavaScript, elements unchecked: the Swift takes [Any] and keeps the strings.
  [_impl getElevatedAccessToken:handle scopes:scopes resolve:resolve reject:reject];
}

- (void)logout:(double)handle resolve:(RCTPromiseResolveBlock)resolve reject:(RCTPromiseRejectBlock)reject
{
  [_impl logout:handle resolve:resolve reject:reject];
}

- (void)setLogLevel:(NSString *)level
{
  [_impl setLogLevel:level];
}

@end
