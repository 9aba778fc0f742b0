/* config.c - see config.h.  Values live in one GKeyFile filled with the
 * defaults first and then overlaid with the file. */
#include "config.h"

#include "vd-error.h"

#include <stdlib.h>

static const VdConfigKey vdConfigTable[] = {
    /* [vars] */
    { "vars", "ssl", "true", "Serve the API over TLS with required client certificates." },
    { "vars", "trust_store_path", "/etc/pki/vdsm",
      "Directory holding keys/vdsmkey.pem, certs/vdsmcert.pem and certs/cacert.pem." },
    { "vars", "ssl_handshake_timeout", "10",
      "Seconds a client has to finish the TLS handshake and send its first bytes." },
    { "vars", "http_enable", "true", "Accept JSON-RPC over HTTP (POST /jsonrpc) on the API port." },
    { "vars", "jsonrpc_enable", "true", "Accept STOMP on the API port." },
    { "vars", "libvirt_uri", "qemu:///system", "libvirt connection URI." },
    { "vars", "run_dir", "/run/vdsm", "Runtime directory (client.log, sockets)." },
    { "vars", "host_uuid_path", "/etc/vdsm/vdsm.id",
      "File holding the host UUID; when missing the SMBIOS/machine-id UUID is used." },
    { "vars", "host_sample_stats_interval", "15", "Seconds between host statistics samples." },
    { "vars", "hidden_nics", "w*,usb*", "Glob patterns of NICs left out of capabilities and stats." },
    { "vars", "host_mem_reserve", "256", "MiB of host memory reserved for the host (reservedMem)." },
    { "vars", "extra_mem_reserve", "65", "Extra MiB added to reservedMem." },
    { "vars", "guest_ram_overhead", "65", "MiB of overhead per guest (guestOverhead)." },
    { "vars", "fake_nics", "dummy_*,veth_*",
      "Glob patterns of virtual NICs reported as NICs in capabilities." },
    /* [vars]: the VM layer (issue 3) */
    { "vars", "max_concurrent_vm_creations", "20",
      "VM start-up flows (create, restore) running at once; more wait in a queue "
      "(docs/benchmarks-vm.md)." },
    { "vars", "hibernation_dir", "/var/lib/vdsm/hibernation",
      "Directory of hibernation images until storage domains exist (VM.hibernate handles)." },
    { "vars", "guest_wait_timeout", "60",
      "Seconds a started VM is reported as 'Powering up' before 'Up' (VDSM: 60)." },
    { "vars", "guest_agent_responsive_timeout", "120",
      "Seconds the oVirt guest agent counts as responsive after its last message (VDSM: 120)." },
    { "vars", "user_shutdown_timeout", "30", "Default VM.shutdown delay in seconds." },
    { "vars", "sys_shutdown_timeout", "120",
      "Default VM.shutdown timeout: seconds each shutdown method gets." },
    /* [vars]: VM statistics sampling (issue 4) */
    { "vars", "vm_sample_interval", "15",
      "Seconds between bulk VM statistics samples (VDSM: 15)." },
    { "vars", "vm_command_timeout", "60",
      "Seconds after which a running VM whose newest stats are older is reported with "
      "monitorResponse -1 (VDSM: 60)." },
    { "vars", "nowait_domain_stats", "true",
      "Ask libvirt for bulk stats with NOWAIT: a domain whose job is busy gives what it has "
      "without waiting." },
    /* [addresses] */
    { "addresses", "management_ip", "::",
      "Address to listen on; '::' falls back to 0.0.0.0 without IPv6." },
    { "addresses", "management_port", "54321", "TCP port of the API listener." },
    { "addresses", "request_queues", "jms.topic.vdsm_requests,jms.topic.vdsm_irs_requests",
      "STOMP destinations whose SEND bodies are JSON-RPC requests." },
    { "addresses", "event_queue", "jms.queue.events", "STOMP destination of pushed events." },
    /* [rpc] */
    { "rpc", "worker_threads", "8", "Threads that run API verbs." },
    { "rpc", "tasks_per_worker", "10",
      "Queued requests per worker; past workers*tasks a request fails with 1100." },
    { "rpc", "worker_timeout", "60", "Seconds after which a running verb is logged as slow-blocked." },
    { "rpc", "slow_call_threshold", "1.0", "Calls longer than this many seconds are logged." },
    /* [stomp] (limits; no VDSM equivalent) */
    { "stomp", "max_frame_size", "16777216",
      "Largest STOMP frame (headers+body) in bytes; a larger one is an error." },
    { "stomp", "max_header_size", "65536", "Largest header block of a STOMP frame in bytes." },
    { "stomp", "max_connections", "256", "Concurrent client connections; more are refused." },
    { "stomp", "max_subscriptions", "64", "Subscriptions per connection." },
    { "stomp", "max_pending_requests", "256",
      "Requests per connection waiting for their reply; more get 1100." },
    { "stomp", "max_outgoing_bytes", "67108864",
      "Bytes queued to a client that does not read; past this it is disconnected." },
    { "stomp", "min_heartbeat", "1000", "Smallest heart-beat interval in ms (VDSM: 1000)." },
    /* [sampling] (VM bulk stats; docs/sampling.md) */
    { "sampling", "max_concurrent_calls", "0",
      "Bulk stats calls one VM sample is split into, run concurrently (1..8); 0: as many as "
      "the host has CPUs, 2 to 4." },
    { "sampling", "block_sample_interval", "60",
      "Seconds between VM samples that include block (disk) and vCPU stats; other samples "
      "leave them out." },
    { "sampling", "stats_call_timeout", "3",
      "Seconds a bulk stats call may take before its domains are checked: a domain whose QEMU "
      "monitor has been busy half that long is unresponsive, the others are sampled again." },
    { "sampling", "unresponsive_ttl", "40",
      "Seconds an unresponsive domain is left out of sampling before it is checked again "
      "(VDSM: 40)." },
    /* [hooks] (VDSM hard-codes the directory; the timeout is ours) */
    { "hooks", "hooks_dir", "/usr/libexec/vdsm/hooks",
      "Hook scripts directory: one sub-directory per hook point." },
    { "hooks", "timeout", "60", "Seconds a hook script may run before it is killed (counts as failed)." },
    /* [metrics] */
    { "metrics", "http_port", "0",
      "Plain-HTTP port serving only GET /metrics to scrapers without client certificates; "
      "0 turns it off." },
    { "metrics", "http_address", "::", "Address of the plain metrics port." },
    /* [devel] */
    { "devel", "recovery_delay", "0",
      "Extra seconds start-up holds the ready gate (code 99); for tests only." },
    { "devel", "sample_name_prefix", "",
      "When set, VM sampling only asks domains whose name starts with it; for benchmarks on "
      "a shared host only." },
    { NULL, NULL, NULL, NULL },
};

static GKeyFile *vdConfigFile;

const VdConfigKey *
vdConfigKeys(void)
{
    return vdConfigTable;
}

static const VdConfigKey *
vdConfigFind(const char *section, const char *key)
{
    for (const VdConfigKey *k = vdConfigTable; k->section; k++) {
        if (g_str_equal(k->section, section) && g_str_equal(k->key, key))
            return k;
    }
    return NULL;
}

static void
vdConfigEnsureDefaults(void)
{
    if (vdConfigFile)
        return;
    vdConfigFile = g_key_file_new();
    for (const VdConfigKey *k = vdConfigTable; k->section; k++)
        g_key_file_set_string(vdConfigFile, k->section, k->key, k->def);
}

int
vdConfigLoad(const char *path, GError **error)
{
    g_autoptr(GKeyFile) file = NULL;
    g_auto(GStrv) groups = NULL;

    vdConfigEnsureDefaults();
    if (!path)
        return 0;

    file = g_key_file_new();
    if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, error)) {
        g_prefix_error(error, "cannot load config %s: ", path);
        return -1;
    }
    groups = g_key_file_get_groups(file, NULL);
    for (gsize i = 0; groups[i]; i++) {
        g_auto(GStrv) keys = g_key_file_get_keys(file, groups[i], NULL, NULL);

        for (gsize j = 0; keys && keys[j]; j++) {
            g_autofree char *value = g_key_file_get_string(file, groups[i], keys[j], NULL);

            if (!vdConfigFind(groups[i], keys[j])) {
                g_warning("%s: unknown key [%s] %s ignored", path, groups[i], keys[j]);
                continue;
            }
            g_key_file_set_string(vdConfigFile, groups[i], keys[j], value ? value : "");
        }
    }
    return 0;
}

int
vdConfigSet(const char *section, const char *key, const char *value, GError **error)
{
    vdConfigEnsureDefaults();
    if (!vdConfigFind(section, key)) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION, "unknown config key [%s] %s",
                    section, key);
        return -1;
    }
    g_key_file_set_string(vdConfigFile, section, key, value);
    return 0;
}

const char *
vdConfigGetString(const char *section, const char *key)
{
    const VdConfigKey *k = vdConfigFind(section, key);
    g_autofree char *value = NULL;
    const char *ret;

    g_assert(k);
    vdConfigEnsureDefaults();
    value = g_key_file_get_string(vdConfigFile, section, key, NULL);
    ret = g_intern_string(value ? g_strstrip(value) : k->def);
    return ret;
}

gint64
vdConfigGetInt(const char *section, const char *key)
{
    return g_ascii_strtoll(vdConfigGetString(section, key), NULL, 10);
}

double
vdConfigGetDouble(const char *section, const char *key)
{
    return g_ascii_strtod(vdConfigGetString(section, key), NULL);
}

gboolean
vdConfigGetBool(const char *section, const char *key)
{
    const char *v = vdConfigGetString(section, key);

    return g_ascii_strcasecmp(v, "true") == 0 || g_ascii_strcasecmp(v, "yes") == 0 ||
           g_str_equal(v, "1") || g_ascii_strcasecmp(v, "on") == 0;
}

char *
vdConfigDump(void)
{
    GString *out = g_string_new(NULL);
    const char *section = NULL;

    for (const VdConfigKey *k = vdConfigTable; k->section; k++) {
        if (g_strcmp0(section, k->section) != 0) {
            g_string_append_printf(out, "%s[%s]\n", section ? "\n" : "", k->section);
            section = k->section;
        }
        g_string_append_printf(out, "# %s (default: %s)\n%s = %s\n", k->description, k->def,
                               k->key, vdConfigGetString(k->section, k->key));
    }
    return g_string_free(out, FALSE);
}
