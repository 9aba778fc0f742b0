/* host-proc.h - parsers for the /proc, /sys and /etc files the host layer reads.
 *
 * DESIGN: every parser takes the file's content as a string and returns
 * plain data, so the unit tests feed fixture text and fuzzers can call them
 * directly; none of them does I/O.  The only I/O helper here is
 * vdHostReadFile, a bounded whole-file read used by the callers.  All
 * functions are pure and thread-safe.
 */
#pragma once

#include <glib.h>

/* Largest /proc or /sys file the host layer reads (bytes).  /proc/cpuinfo
 * of a 512-CPU host is ~700 KiB and /var/lib/dpkg/status a few MiB. */
#define VD_HOST_FILE_MAX (16 * 1024 * 1024)

/* Read a whole (small, usually virtual) file; NULL when it cannot be read
 * or is larger than VD_HOST_FILE_MAX.  Never logs. */
char *vdHostReadFile(const char *path);
/* Read the first line of a file, stripped of surrounding white space;
 * NULL when unreadable. */
char *vdHostReadLine(const char *path);
/* Read a file holding one integer; @fallback when unreadable or garbage. */
gint64 vdHostReadInt(const char *path, gint64 fallback);

/* ---- /proc/stat ---------------------------------------------------- */

typedef struct {
    guint64 user; /* user + nice, as VDSM counts it */
    guint64 sys;
    guint64 idle;
} VdCpuTimes;

typedef struct {
    int id; /* N of the "cpuN" line */
    VdCpuTimes t;
} VdCpuCoreTimes;

typedef struct {
    VdCpuTimes total; /* the "cpu" line */
    GArray *cores;    /* VdCpuCoreTimes, in file order */
    gint64 btime;     /* boot time (epoch seconds), -1 when absent */
} VdProcStat;

/* Returns FALSE when the aggregate "cpu" line is missing or malformed. */
gboolean vdProcStatParse(const char *text, VdProcStat *out);
void vdProcStatClear(VdProcStat *st);

/* ---- /proc/meminfo and /sys/devices/system/node/nodeN/meminfo ------- */

typedef struct {
    /* all in KiB; -1 when the line is absent */
    gint64 mem_total;
    gint64 mem_free;
    gint64 mem_available;
    gint64 buffers;
    gint64 cached;
    gint64 sreclaimable;
    gint64 swap_total;
    gint64 swap_free;
    gint64 anon_huge_pages;
    gint64 committed_as;
} VdMeminfo;

/* Accepts both the global form ("MemTotal: 1 kB") and the per-node form
 * ("Node 0 MemTotal: 1 kB").  Unknown keys are ignored. */
void vdMeminfoParse(const char *text, VdMeminfo *out);

/* ---- /proc/<pid>/stat ---------------------------------------------- */

typedef struct {
    guint64 utime; /* clock ticks */
    guint64 stime;
    guint64 starttime; /* clock ticks after boot */
} VdPidStat;

/* Handles a comm holding spaces and parentheses.  FALSE when malformed. */
gboolean vdPidStatParse(const char *text, VdPidStat *out);

/* ---- small one-liners ---------------------------------------------- */

/* The 5-minute load average field of /proc/loadavg ("0.42"); NULL on error. */
char *vdLoadavgParse(const char *text);
/* "always [madvise] never" -> "madvise"; NULL when there is no [...]. */
char *vdBracketChoiceParse(const char *text);
/* The first field of /proc/uptime in seconds; -1 on error. */
double vdUptimeParse(const char *text);
/* "0-3,5,7-8\n" -> sorted unique ints; NULL when malformed.  An empty
 * string gives an empty array. */
GArray *vdCpuListParse(const char *text);
/* The ints of an array as "0,1,2" (VDSM's onlineCpus). */
char *vdIntListFormat(GArray *ints);

/* ---- /proc/net/dev ------------------------------------------------- */

typedef struct {
    char *name;
    guint64 rx_bytes, rx_packets, rx_errors, rx_dropped;
    guint64 tx_bytes, tx_packets, tx_errors, tx_dropped;
} VdNetDevCounters;

void vdNetDevCountersFree(VdNetDevCounters *c);
/* GPtrArray of VdNetDevCounters (owning), in file order; NULL when the
 * header is not recognised. */
GPtrArray *vdNetDevParse(const char *text);

/* ---- routes: /proc/net/route, /proc/net/ipv6_route ------------------ */

typedef struct {
    char *dev;
    char *gateway; /* textual address */
    guint32 metric;
} VdDefaultRoute;

void vdDefaultRouteFree(VdDefaultRoute *r);
/* Default routes (destination 0/0 through a gateway, not rejected), sorted
 * by metric (stable).  Owning GPtrArray; never NULL. */
GPtrArray *vdRouteV4DefaultsParse(const char *text);
GPtrArray *vdRouteV6DefaultsParse(const char *text);

/* ---- /proc/net/vlan/config ----------------------------------------- */

typedef struct {
    char *name;
    int vid;
    char *dev;
} VdVlanEntry;

void vdVlanEntryFree(VdVlanEntry *v);
GPtrArray *vdVlanConfigParse(const char *text);

/* ---- KEY=value files: /etc/os-release ------------------------------ */

/* Owning string->string table; values lose one level of single or double
 * quotes.  Comments and malformed lines are skipped. */
GHashTable *vdKeyValueParse(const char *text);

/* ---- /etc/resolv.conf ---------------------------------------------- */

/* The addresses of the "nameserver" lines, in order. */
GStrv vdResolvConfNameservers(const char *text);

/* ---- /proc/cpuinfo ------------------------------------------------- */

typedef struct {
    char *model; /* "model name" (or "cpu" on POWER), "" when absent */
    char *mhz;   /* "cpu MHz" as printed, "" when absent */
    GStrv flags; /* "flags" of the first processor, never NULL */
} VdCpuInfo;

void vdCpuInfoParse(const char *text, VdCpuInfo *out);
void vdCpuInfoClear(VdCpuInfo *ci);

/* ---- /var/lib/dpkg/status ------------------------------------------ */

/* Versions of the installed packages among @wanted (NULL-terminated):
 * owning table package -> version ("1:7.2+dfsg-7+deb12u6"). */
GHashTable *vdDpkgStatusParse(const char *text, const char *const *wanted);
/* Split a Debian version into upstream version and revision, dropping the
 * epoch: "1:7.2+dfsg-7" -> "7.2+dfsg", "7".  The revision is "" when
 * there is none. */
void vdDebVersionSplit(const char *full, char **version, char **release);

/* ---- kernel -------------------------------------------------------- */

/* "6.1.0-13-amd64" -> "6.1.0", "13-amd64" (VDSM splits at the first '-';
 * no '-' gives "0", "0" as VDSM does). */
void vdKernelReleaseSplit(const char *release, char **version, char **rel);
/* Build time from `uname -v` ("... (2023-09-29)" as Debian prints it, or
 * "... Mon Oct 16 14:21:08 UTC 2023"), epoch seconds; 0 when unknown. */
gint64 vdKernelBuildTimeParse(const char *uname_version);

/* ---- identifiers --------------------------------------------------- */

/* 32 hex digits (/etc/machine-id) -> "8-4-4-4-12" lower case; NULL when
 * the text is not 32 hex digits. */
char *vdMachineIdToUuid(const char *text);
