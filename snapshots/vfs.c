/* An SQLite VFS that keeps a database file in memory as a row of chunks which
 * become raft's snapshot buffers as they are, so that a snapshot image exists
 * once, never copied.
 *
 * Why not memdb (sqlite3_deserialize): memdb keeps the file in one buffer
 * that only the connection may free, so the image had to be copied into
 * raft's memory, and it grows by realloc, which may copy again. Here every
 * chunk is allocated once with raft_malloc and never moves: the file is the
 * concatenation of its chunks. lc_snap_vfs_take() hands them to the caller,
 * each trimmed to the bytes in use, and raft_uv writes them with one writev.
 *
 * Chunk k holds CHUNK_MIN << k bytes up to CHUNK_MAX, so a small group's
 * image is one 64 KiB chunk and a 1 GiB one about 260 chunks of 4 MiB. SQLite
 * writes whole pages at page-aligned offsets and the chunk sizes are
 * multiples of the largest page (64 KiB), so in practice a page never spans
 * two chunks; the code does not rely on it.
 *
 * Every file the connection opens lives here, the main database and any
 * statement journal or temporary file alike; none ever touches the disk.
 * There is no locking (one connection, one thread at a time) and no shared
 * memory (io methods version 1, so WAL is impossible). Files grow up to
 * lc_snap_vfs_max bytes (memdb's 1 GiB by default; raft_uv cannot write a
 * file over 2 GiB anyway); a write beyond fails with SQLITE_FULL, a chunk that
 * cannot be allocated with SQLITE_IOERR_NOMEM, which SQLite reports as
 * SQLITE_NOMEM.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <raft.h>

#include "snapshots/internal.h"

#define CHUNK_MIN ((sqlite3_int64)64 * 1024)
#define CHUNK_MAX ((sqlite3_int64)4 * 1024 * 1024)
#define N_GROWING 6 /* chunks 0..5 double; the rest are CHUNK_MAX */
/* Where the CHUNK_MAX chunks begin: CHUNK_MIN * (2^N_GROWING - 1). */
#define GROWING_END (CHUNK_MIN * ((1 << N_GROWING) - 1))

size_t lc_snap_vfs_max = (size_t)1 << 30;

struct chunk_file {
    sqlite3_file base;          /* first: SQLite casts */
    struct raft_buffer *chunks; /* raft_malloc'd array; .len = capacity */
    unsigned n;                 /* chunks allocated */
    unsigned slots;             /* entries in @chunks */
    sqlite3_int64 size;         /* file size */
    sqlite3_int64 alloc;        /* bytes in the allocated chunks */
};

static sqlite3_int64 chunk_capacity(unsigned k)
{
    return k < N_GROWING ? CHUNK_MIN << k : CHUNK_MAX;
}

/* The chunk holding byte @off, and @off's position in it. */
static unsigned chunk_at(sqlite3_int64 off, size_t *within)
{
    unsigned k;
    sqlite3_int64 start;

    if (off >= GROWING_END) {
        k = N_GROWING + (unsigned)((off - GROWING_END) / CHUNK_MAX);
        start = GROWING_END + (sqlite3_int64)(k - N_GROWING) * CHUNK_MAX;
    } else {
        /* Chunk k starts at CHUNK_MIN * (2^k - 1). */
        sqlite3_int64 q = off / CHUNK_MIN + 1;
        k = 0;
        while (q > 1) {
            q >>= 1;
            k++;
        }
        start = CHUNK_MIN * (((sqlite3_int64)1 << k) - 1);
    }
    *within = (size_t)(off - start);
    return k;
}

static void free_chunks(struct chunk_file *f)
{
    for (unsigned i = 0; i < f->n; i++) {
        raft_free(f->chunks[i].base);
    }
    raft_free(f->chunks);
    f->chunks = NULL;
    f->n = 0;
    f->slots = 0;
    f->size = 0;
    f->alloc = 0;
}

/* Allocate chunks until @end bytes fit. SQLITE_OK or SQLITE_IOERR_NOMEM (the
 * chunks allocated so far are kept: they are part of the file's capacity). */
static int reserve(struct chunk_file *f, sqlite3_int64 end)
{
    while (f->alloc < end) {
        sqlite3_int64 cap = chunk_capacity(f->n);
        void *p;
        if (f->n == f->slots) {
            unsigned slots = f->slots == 0 ? 8 : f->slots * 2;
            struct raft_buffer *a = raft_realloc(f->chunks, slots * sizeof *a);
            if (a == NULL) {
                return SQLITE_IOERR_NOMEM;
            }
            f->chunks = a;
            f->slots = slots;
        }
        p = raft_malloc((size_t)cap);
        if (p == NULL) {
            return SQLITE_IOERR_NOMEM;
        }
        f->chunks[f->n].base = p;
        f->chunks[f->n].len = (size_t)cap;
        f->n++;
        f->alloc += cap;
    }
    return SQLITE_OK;
}

/* Copy @amt bytes at @off (inside the allocated chunks) into @buf, or with
 * @to_file from @buf into the file; @buf NULL with @to_file writes zeros. */
static void copy(struct chunk_file *f, void *buf, int amt, sqlite3_int64 off,
                 bool to_file)
{
    unsigned char *p = buf;
    size_t left = (size_t)amt;
    size_t within;
    unsigned k = chunk_at(off, &within);

    while (left > 0) {
        unsigned char *c = (unsigned char *)f->chunks[k].base + within;
        size_t n = f->chunks[k].len - within;
        if (n > left) {
            n = left;
        }
        if (!to_file) {
            memcpy(p, c, n);
        } else if (p != NULL) {
            memcpy(c, p, n);
        } else {
            memset(c, 0, n);
        }
        if (p != NULL) {
            p += n;
        }
        left -= n;
        within = 0;
        k++;
    }
}

/* Zero the file from @from (its size) up to @to (both inside the chunks). */
static void zero_gap(struct chunk_file *f, sqlite3_int64 from, sqlite3_int64 to)
{
    while (from < to) {
        int n = to - from > INT32_MAX ? INT32_MAX : (int)(to - from);
        copy(f, NULL, n, from, true);
        from += n;
    }
}

/* ------------------------------------------------------------ io methods */

static int x_close(sqlite3_file *file)
{
    free_chunks((struct chunk_file *)file);
    return SQLITE_OK;
}

static int x_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    struct chunk_file *f = (struct chunk_file *)file;
    int have;

    if (off >= f->size) {
        memset(buf, 0, (size_t)amt);
        return SQLITE_IOERR_SHORT_READ;
    }
    have = f->size - off < amt ? (int)(f->size - off) : amt;
    copy(f, buf, have, off, false);
    if (have < amt) {
        memset((unsigned char *)buf + have, 0, (size_t)(amt - have));
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int x_write(sqlite3_file *file, const void *buf, int amt,
                   sqlite3_int64 off)
{
    struct chunk_file *f = (struct chunk_file *)file;
    sqlite3_int64 end = off + amt;
    int rc;

    if (end > (sqlite3_int64)lc_snap_vfs_max) {
        return SQLITE_FULL;
    }
    rc = reserve(f, end);
    if (rc != SQLITE_OK) {
        return rc;
    }
    if (off > f->size) {
        zero_gap(f, f->size, off);
    }
    copy(f, (void *)buf, amt, off, true);
    if (end > f->size) {
        f->size = end;
    }
    return SQLITE_OK;
}

static int x_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    struct chunk_file *f = (struct chunk_file *)file;
    int rc;

    if (size > f->size) {
        if (size > (sqlite3_int64)lc_snap_vfs_max) {
            return SQLITE_FULL;
        }
        rc = reserve(f, size);
        if (rc != SQLITE_OK) {
            return rc;
        }
        zero_gap(f, f->size, size);
    }
    f->size = size;
    return SQLITE_OK;
}

static int x_sync(sqlite3_file *file, int flags)
{
    (void)file;
    (void)flags;
    return SQLITE_OK;
}

static int x_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    *size = ((struct chunk_file *)file)->size;
    return SQLITE_OK;
}

static int x_lock(sqlite3_file *file, int level)
{
    (void)file;
    (void)level;
    return SQLITE_OK;
}

static int x_check_reserved_lock(sqlite3_file *file, int *out)
{
    (void)file;
    *out = 0;
    return SQLITE_OK;
}

static int x_file_control(sqlite3_file *file, int op, void *arg)
{
    (void)file;
    (void)op;
    (void)arg;
    return SQLITE_NOTFOUND;
}

static int x_sector_size(sqlite3_file *file)
{
    (void)file;
    return 1024;
}

static int x_device_characteristics(sqlite3_file *file)
{
    (void)file;
    /* As memdb: nothing is ever torn, appends are safe. */
    return SQLITE_IOCAP_ATOMIC | SQLITE_IOCAP_POWERSAFE_OVERWRITE |
           SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL;
}

static const sqlite3_io_methods io_methods = {
    1, /* no shared memory, no xFetch: no WAL, no mmap */
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_lock, /* xUnlock */
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

/* ------------------------------------------------------------ the vfs */

static sqlite3_vfs *base_vfs(sqlite3_vfs *vfs)
{
    return vfs->pAppData;
}

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
                  int flags, int *out_flags)
{
    struct chunk_file *f = (struct chunk_file *)file;
    (void)vfs;
    (void)name;

    /* Each open is a new, empty file; nothing is allocated until written. */
    memset(f, 0, sizeof *f);
    f->base.pMethods = &io_methods;
    if (out_flags != NULL) {
        *out_flags = flags;
    }
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    (void)name;
    (void)sync_dir;
    return SQLITE_OK; /* files vanish when closed */
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    (void)name;
    (void)flags;
    *out = 0; /* no journal or WAL file ever exists */
    return SQLITE_OK;
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    sqlite3_snprintf(n, out, "%s", name);
    return SQLITE_OK;
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return base_vfs(vfs)->xRandomness(base_vfs(vfs), n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    return base_vfs(vfs)->xSleep(base_vfs(vfs), us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    return base_vfs(vfs)->xCurrentTime(base_vfs(vfs), out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    (void)n;
    (void)out;
    return 0;
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return base_vfs(vfs)->xCurrentTimeInt64(base_vfs(vfs), out);
}

static sqlite3_vfs chunk_vfs = {
    2,                         /* iVersion: xCurrentTimeInt64 */
    sizeof(struct chunk_file), /* szOsFile */
    512,                       /* mxPathname */
    NULL,                      /* pNext */
    LC_SNAP_VFS,               /* zName */
    NULL,                      /* pAppData: the default vfs */
    v_open,
    v_delete,
    v_access,
    v_full_pathname,
    NULL, /* xDlOpen: no extensions */
    NULL,
    NULL,
    NULL,
    v_randomness,
    v_sleep,
    v_current_time,
    v_get_last_error,
    v_current_time_int64,
    NULL,
    NULL,
    NULL,
};

static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
static bool registered;

int lc_snap_vfs_register(void)
{
    int rc = SQLITE_OK;

    pthread_mutex_lock(&register_lock);
    if (!registered) {
        rc = sqlite3_initialize();
        if (rc == SQLITE_OK) {
            chunk_vfs.pAppData = sqlite3_vfs_find(NULL);
            rc = chunk_vfs.pAppData != NULL
                     ? sqlite3_vfs_register(&chunk_vfs, 0)
                     : SQLITE_ERROR;
        }
        registered = rc == SQLITE_OK;
    }
    pthread_mutex_unlock(&register_lock);
    return rc;
}

int lc_snap_vfs_take(sqlite3 *db, struct raft_buffer **bufs, unsigned *n_bufs,
                     size_t *len)
{
    sqlite3_file *file = NULL;
    struct chunk_file *f;
    unsigned used;
    size_t within;

    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) !=
            SQLITE_OK ||
        file == NULL || file->pMethods != &io_methods) {
        return SQLITE_MISUSE;
    }
    f = (struct chunk_file *)file;
    if (f->size == 0) {
        return SQLITE_EMPTY;
    }
    /* Trim: the chunk holding the last byte is the last one handed out. */
    used = chunk_at(f->size - 1, &within) + 1;
    f->chunks[used - 1].len = within + 1;
    for (unsigned i = used; i < f->n; i++) {
        raft_free(f->chunks[i].base); /* capacity past the end of file */
    }
    *bufs = f->chunks;
    *n_bufs = used;
    *len = (size_t)f->size;
    f->chunks = NULL;
    f->n = 0;
    f->slots = 0;
    f->size = 0;
    f->alloc = 0;
    return SQLITE_OK;
}
