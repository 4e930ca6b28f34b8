#include "wg/cookie.h"
