/* Which phase held the event loop: named sections of loop work (restoring a
 * snapshot, applying raft entries, freezing a snapshot) add up the time they
 * take, so a lag monitor that finds its timer late can say where the time
 * went ("event loop blocked 480 ms in raft apply").
 *
 * One process-wide table, loop thread only. Sections nest: only the
 * outermost one is charged, so "raft apply" includes the index updates and
 * pushes it caused. Cost: two monotonic clock reads per section.
 */
#ifndef LC_COMMON_LOOPMON_H
#define LC_COMMON_LOOPMON_H

#include <stdint.h>

/* Enter the section @phase (a static string, compared by address). */
void lc_loopmon_enter(const char *phase);

/* Leave the section entered last. */
void lc_loopmon_leave(void);

/* The lag monitor found the loop @late_ms late: log "event loop blocked
 * N ms in <phase>" naming the section that took the most time since the
 * previous call (or "outside named phases"), with that section's time, and
 * start counting afresh. Also called, with 0, on every on-time tick. */
void lc_loopmon_report(uint64_t late_ms);

/* Longest block reported so far, in ms (0 if none), and its phase. */
uint64_t lc_loopmon_max_ms(const char **phase);

#endif /* LC_COMMON_LOOPMON_H */
