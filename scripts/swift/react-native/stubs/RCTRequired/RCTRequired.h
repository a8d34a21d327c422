// STUB (see ../README.md).
#pragma once
#include <utility>
