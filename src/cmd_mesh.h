/* The mesh subcommands, one file each (src/cmd_init.c, cmd_up.c, ...),
 * sharing src/cli.[ch] (messages, checks, state directory) and the option
 * parser src/cli_opts.[ch]. Each is `int fn(argc, argv)` with argv[0] the
 * subcommand name; they return the process exit code: 0 success, 1 failure
 * (one line "meshd: REASON" on stderr), 2 usage error. */
#ifndef MESHD_CMD_MESH_H
#define MESHD_CMD_MESH_H

int cmd_init(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_invite(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_graph(int argc, char **argv);

#endif
