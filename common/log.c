/* Leveled logging to stderr. One fprintf per line so lines from a process never interleave. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum lc_log_level min_level = LC_LOG_INFO;

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* Modules with a level of their own (operator/log); few, set rarely. */
static struct {
    char module[16];
    enum lc_log_level level;
} module_levels[16];
static unsigned n_module_levels;

void lc_log_set_level(enum lc_log_level level)
{
    min_level = level;
}

int lc_log_set_module_level(const char *module, enum lc_log_level level)
{
    unsigned i;
    if (strlen(module) >= sizeof module_levels[0].module) {
        return -1;
    }
    for (i = 0; i < n_module_levels; i++) {
        if (strcmp(module_levels[i].module, module) == 0) {
            break;
        }
    }
    if (i == n_module_levels) {
        if (i == sizeof module_levels / sizeof module_levels[0]) {
            return -1;
        }
        strcpy(module_levels[i].module, module);
        n_module_levels++;
    }
    module_levels[i].level = level;
    return 0;
}

static enum lc_log_level level_of(const char *module)
{
    for (unsigned i = 0; i < n_module_levels; i++) {
        if (strcmp(module_levels[i].module, module) == 0) {
            return module_levels[i].level;
        }
    }
    return min_level;
}

int lc_log_parse_level(const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void lc_log(enum lc_log_level level, const char *module, const char *fmt, ...)
{
    char msg[1024];
    char stamp[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (level >= LC_LOG_OFF || level < level_of(module)) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, now.tv_nsec / 1000000L,
            level_names[level], module, msg);
}
