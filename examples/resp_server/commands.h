/* commands.h -- the commands the server knows. */
#ifndef RESP_COMMANDS_H
#define RESP_COMMANDS_H

#include "resp.h"
#include "store.h"

/* Runs one request and appends its reply. 1 when the client asked to quit. */
int command_run(store *db, const resp_args *args, resp_out *out);

#endif
