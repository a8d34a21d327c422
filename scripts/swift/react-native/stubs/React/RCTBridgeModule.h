// STUB of React Native's RCTBridgeModule.h (see ../README.md); the block types are RN 0.86.3's.
#pragma once
#import <Foundation/Foundation.h>

NS_ASSUME_NONNULL_BEGIN
typedef void (^RCTPromiseResolveBlock)(id _Nullable result);
typedef void (^RCTPromiseRejectBlock)(NSString *_Nullable code, NSString *_Nullable message, NSError *_Nullable error);

@protocol RCTBridgeModule <NSObject>
+ (NSString *)moduleName;
@optional
+ (BOOL)requiresMainQueueSetup;
- (void)invalidate;
@end
NS_ASSUME_NONNULL_END
