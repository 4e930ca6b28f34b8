#include "wg/ratelimit.h"
