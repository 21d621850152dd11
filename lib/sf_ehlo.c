/* placeholder: being written */
#include "sf_ehlo.h"
