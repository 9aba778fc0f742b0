/* vm-metrics.h - GET /metrics: host and VM statistics in the Prometheus
 * text exposition format (version 0.0.4), from the samples only.
 *
 * DESIGN: main loop only.  The route handler reads the VM table (which
 * the main loop owns) for the VMs to report and their status, takes
 * references to each VM's samples from the sampler cache (vm-sampling.h)
 * and the host sampler's window (host-sampler.h), and formats text.  No
 * libvirt call, no file read, no lock held longer than a pointer copy:
 * a scrape of 100 VMs takes about a millisecond (docs/benchmarks-stats.md).
 * The metric names and labels are listed in docs/metrics.md.
 */
#pragma once

#include <glib.h>

/* Content type of the exposition format. */
#define VD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The whole exposition: host metrics, sampler metrics, one group per VM
 * that is not Down. */
GBytes *vdMetricsRender(void);

/* A VdHttpRouteFunc for "GET /metrics". */
GBytes *vdMetricsRoute(const char *path, const char **content_type, int *status, gpointer data);

/* Append @value to @out escaped as a label value ("\\", "\"", "\n"). */
void vdMetricsEscapeLabel(GString *out, const char *value);
