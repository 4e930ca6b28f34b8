#include "wg/replay.h"
