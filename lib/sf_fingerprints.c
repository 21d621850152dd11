/* placeholder: being written */
#include "sf_fingerprints.h"
