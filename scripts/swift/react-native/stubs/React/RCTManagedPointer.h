// STUB (see ../README.md).
#pragma once
#include <memory>
#import <Foundation/Foundation.h>
@interface RCTManagedPointer : NSObject
@end
namespace facebook::react {
template <typename T, typename P>
RCTManagedPointer *managedPointer(P initializer);
}
