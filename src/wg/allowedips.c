#include "wg/allowedips.h"
