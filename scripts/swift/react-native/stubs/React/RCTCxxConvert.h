// STUB (see ../README.md).
#pragma once
#import <Foundation/Foundation.h>
@interface RCTCxxConvert : NSObject
@end
