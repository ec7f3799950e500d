/* The connection-balancing policy (server/balance.c runs it), kept apart
 * so a unit test can drive it without a cluster.
 *
 * Given every member's SDK connection count, how many of this member's
 * connections to send ConnectReset this tick, and to which member each
 * should go:
 *
 *   - avg = total / n. The cluster is out of balance when some member holds
 *     more than avg*(1+f) or fewer than avg*(1-f) (f = factor_pct / 100,
 *     Nacos's loaderFactor band, as smartReloadCluster pairs over- and
 *     under-loaded members).
 *   - Out of balance, a member above ceil(avg) sheds down to ceil(avg), at
 *     most @batch this tick. Triggering at the band's edge but shedding to
 *     the average is the hysteresis: a balanced cluster rests well inside
 *     the band, so clients coming and going do not start another round, and
 *     ceil() keeps tiny counts ({1,0,0}) from bouncing one connection around.
 *   - The resets are split over the members below avg in proportion to how
 *     far below they are (largest remainder), so every overloaded member
 *     computing its own share independently still fills each underloaded
 *     one to about avg, not the least loaded one twice over.
 */
#ifndef LC_SERVER_BALANCE_PLAN_H
#define LC_SERVER_BALANCE_PLAN_H

/* @counts: the n members' SDK connection counts; @self: this member's
 * index. Fill @to[i] (n entries) with how many resets to redirect to
 * member i (to[self] is 0) and return the number of resets (the sum of
 * @to; 0 when balanced, n < 2, self out of range or @batch 0). */
unsigned lc_balance_plan(const unsigned *counts, unsigned n, unsigned self,
                         unsigned factor_pct, unsigned batch, unsigned *to);

/* Whether @counts are out of the ±factor_pct band around their average. */
int lc_balance_unbalanced(const unsigned *counts, unsigned n,
                          unsigned factor_pct);

#endif /* LC_SERVER_BALANCE_PLAN_H */
