/* Benchmarks run by `locusctl bench ...`. Each prints progress on stderr and
 * its figures as a table on stdout (JSON with --json). */
#ifndef LC_BENCH_H
#define LC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* locusctl bench failover [options]: see bench/failover.c. Returns the exit
 * code. */
int lc_bench_failover(int argc, char **argv, bool json);

/* locusctl bench register|query|memory [options]: see bench/naming_bench.c.
 * @cmd is the subcommand. Returns the exit code. */
int lc_bench_naming(const char *cmd, int argc, char **argv, bool json);

/* Percentile @p (0..100) of @n sorted values. */
uint64_t lc_bench_percentile(const uint64_t *sorted, size_t n, double p);

/* Sort @n values ascending. */
void lc_bench_sort(uint64_t *v, size_t n);

#endif /* LC_BENCH_H */
