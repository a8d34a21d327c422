// STUB of React Native's RCTConvertHelpers.h (see ../README.md): the bridging helpers the
// generated struct accessors call, with RN 0.86.3's signatures.
#pragma once
#include <optional>
#include <vector>
#import <Foundation/Foundation.h>

NSString *RCTBridgingToString(id value);
NSString *RCTBridgingToOptionalString(id value);
std::optional<double> RCTBridgingToOptionalDouble(id value);
std::optional<bool> RCTBridgingToOptionalBool(id value);
double RCTBridgingToDouble(id value);
bool RCTBridgingToBool(id value);
NSArray *RCTBridgingToArray(id value);
