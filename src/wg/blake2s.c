#include "wg/blake2s.h"
