/* placeholder: being written */
#include "sf_verdict.h"
