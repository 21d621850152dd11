/* placeholder: being written */
#include "sf_reply.h"
