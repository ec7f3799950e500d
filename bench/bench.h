/* Benchmarks run by `locusctl bench ...`. Each prints progress on stderr and
 * its figures as a table on stdout (JSON with --json). */
#ifndef LC_BENCH_H
#define LC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* locusctl bench failover [options]: see bench/failover.c. Returns the exit
 * code. */
int lc_bench_failover(int argc, char **argv, bool json);

/* locusctl bench push [options]: see bench/push.c. @server is the global
 * --server ("host:port") or NULL. */
int lc_bench_push(int argc, char **argv, bool json, const char *server);

/* Blocking HTTP/1.1 request to @host (IPv4 literal):@port with User-Agent
 * @agent and no body (5 s timeout). On 0, *@status is set and *@body (when
 * not NULL) is a malloc'd copy of the body. Return 0 or -1. */
int lc_bench_http_agent(const char *host, int port, const char *method,
                        const char *path, const char *agent, int *status,
                        char **body);

/* locusctl bench register|query|memory [options]: see bench/naming_bench.c.
 * @cmd is the subcommand. Returns the exit code. */
int lc_bench_naming(const char *cmd, int argc, char **argv, bool json);

/* locusctl bench grpc register|push|idle|storm|puts [options]: see
 * bench/grpc.c. Returns the exit code. */
int lc_bench_grpc(int argc, char **argv, bool json);

/* locusctl bench distro [options]: see bench/distro.c. Returns the exit
 * code. */
int lc_bench_distro(int argc, char **argv, bool json);

/* locusctl bench restart [options]: see bench/restart.c. Returns the exit
 * code. */
int lc_bench_restart(int argc, char **argv, bool json);

/* Field @field ("VmRSS", "VmHWM") of /proc/@pid/status in kB, or -1
 * (bench/cluster.c). */
long lc_bench_status_kb(pid_t pid, const char *field);

/* Percentile @p (0..100) of @n sorted values. */
uint64_t lc_bench_percentile(const uint64_t *sorted, size_t n, double p);

/* Sort @n values ascending. */
void lc_bench_sort(uint64_t *v, size_t n);

#endif /* LC_BENCH_H */
