/* fuzz-stomp.c - libFuzzer target for the STOMP codec (src/transport/stomp-frame.c).
 *
 * DESIGN: single-threaded; one input is one byte stream from a client.  It is
 * parsed twice: in one piece, and in chunks whose sizes come from the first
 * three input bytes (the whole input, those bytes included, is the stream,
 * so the seeds in corpus/stomp/ are plain valid frames).  The limits come
 * from the top bits of the third byte.  Checked invariants (abort on
 * violation, so libFuzzer records a crash):
 *  - both parses agree: same frames, same heart-beat count, and an error in
 *    one iff an error in the other (messages may differ: which check trips
 *    first depends on how much was seen);
 *  - every parsed frame survives serialize -> parse unchanged (apart from
 *    content-length, which the serializer recomputes), vdStompEncode gives
 *    the same bytes as vdStompFrameSerialize, and serializing the re-parsed
 *    frame gives the same bytes again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stomp-frame.h"
#include "vd-error.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz-stomp: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const struct {
    gsize max_frame;
    gsize max_header;
} fuzzLimits[4] = {
    {0, 0},       /* no limit */
    {4096, 1024}, /* upper-case first bytes land here: the seeds */
    {256, 128},
    {64, 32},
};

typedef struct {
    GPtrArray *frames;
    guint heartbeats;
    gboolean failed;
} FuzzResult;

static void
fuzzResultClear(FuzzResult *result)
{
    g_clear_pointer(&result->frames, g_ptr_array_unref);
}

/* Parse @data, fed in pieces of @cuts[j % 3] bytes (0: all the rest). */
static void
fuzzParse(const uint8_t *data, size_t size, const uint8_t *cuts, gsize max_frame, gsize max_header,
          FuzzResult *result)
{
    g_autoptr(VdStompParser) parser = vdStompParserNew(max_frame, max_header);
    gsize pos = 0;

    result->frames = g_ptr_array_new_with_free_func((GDestroyNotify)vdStompFrameFree);
    result->heartbeats = 0;
    result->failed = FALSE;
    for (guint j = 0; pos < size; j++) {
        g_autoptr(GError) error = NULL;
        gsize n = cuts ? cuts[j % 3] : 0;
        VdStompFrame *frame;
        int rc;

        if (n == 0 || n > size - pos)
            n = size - pos;
        rc = vdStompParserFeed(parser, (const char *)data + pos, n, &error);
        while ((frame = vdStompParserPop(parser)))
            g_ptr_array_add(result->frames, frame);
        result->heartbeats += vdStompParserTakeHeartbeats(parser);
        if (rc < 0) {
            CHECK(error && error->domain == VD_ERROR && error->code == VD_ERR_PARSE);
            CHECK(g_utf8_validate(error->message, -1, NULL));
            result->failed = TRUE;
            return;
        }
        CHECK(!error);
        pos += n;
    }
}

static gboolean
fuzzFrameEqual(const VdStompFrame *a, const VdStompFrame *b, gboolean skip_length)
{
    guint i = 0, k = 0;

    if (strcmp(a->command, b->command) != 0)
        return FALSE;
    if (a->body_len != b->body_len || memcmp(a->body, b->body, a->body_len) != 0)
        return FALSE;
    if (a->body[a->body_len] != '\0' || b->body[b->body_len] != '\0')
        return FALSE;
    for (;;) {
        const VdStompHeader *ha = NULL, *hb = NULL;

        for (; i < a->headers->len; i++) {
            ha = &g_array_index(a->headers, VdStompHeader, i);
            if (!skip_length || strcmp(ha->key, "content-length") != 0)
                break;
            ha = NULL;
        }
        for (; k < b->headers->len; k++) {
            hb = &g_array_index(b->headers, VdStompHeader, k);
            if (!skip_length || strcmp(hb->key, "content-length") != 0)
                break;
            hb = NULL;
        }
        if (!ha || !hb)
            return !ha && !hb;
        if (strcmp(ha->key, hb->key) != 0 || strcmp(ha->value, hb->value) != 0)
            return FALSE;
        i++;
        k++;
    }
}

static void
fuzzRoundTrip(const VdStompFrame *frame)
{
    g_autoptr(GBytes) bytes = vdStompFrameSerialize(frame);
    g_autoptr(GBytes) again = NULL;
    g_autoptr(GByteArray) encoded = g_byte_array_new();
    g_autoptr(GPtrArray) list = g_ptr_array_new();
    g_autoptr(VdStompParser) parser = vdStompParserNew(0, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(VdStompFrame) reparsed = NULL;
    g_autofree char *length = g_strdup_printf("%zu", frame->body_len);
    const char *data;
    gsize size;

    /* vdStompEncode is the same encoder without a VdStompFrame. */
    for (guint i = 0; i < frame->headers->len; i++) {
        const VdStompHeader *h = &g_array_index(frame->headers, VdStompHeader, i);

        g_ptr_array_add(list, h->key);
        g_ptr_array_add(list, h->value);
    }
    g_ptr_array_add(list, NULL);
    vdStompEncode(encoded, frame->command, (const char *const *)list->pdata, frame->body,
                  frame->body_len);
    data = g_bytes_get_data(bytes, &size);
    CHECK(encoded->len == size && memcmp(encoded->data, data, size) == 0);
    CHECK(size > 0 && data[size - 1] == '\0');

    CHECK(vdStompParserFeed(parser, data, size, &error) == 0);
    CHECK(!error);
    reparsed = vdStompParserPop(parser);
    CHECK(reparsed);
    CHECK(!vdStompParserPop(parser));
    CHECK(vdStompParserTakeHeartbeats(parser) == 0);
    CHECK(fuzzFrameEqual(frame, reparsed, TRUE));
    /* content-length is written exactly when there is a body, and is right. */
    if (frame->body_len > 0)
        CHECK(g_strcmp0(vdStompFrameGetHeader(reparsed, "content-length"), length) == 0);
    else
        CHECK(!vdStompFrameGetHeader(reparsed, "content-length"));

    again = vdStompFrameSerialize(reparsed);
    CHECK(g_bytes_equal(bytes, again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzResult whole = {0}, chunked = {0};
    uint8_t cuts[3];
    guint mode;

    if (size < 3)
        return 0;
    mode = data[2] >> 6;
    for (guint i = 0; i < 3; i++)
        cuts[i] = data[i] & 0x3f;

    fuzzParse(data, size, NULL, fuzzLimits[mode].max_frame, fuzzLimits[mode].max_header, &whole);
    fuzzParse(data, size, cuts, fuzzLimits[mode].max_frame, fuzzLimits[mode].max_header, &chunked);

    CHECK(whole.failed == chunked.failed);
    CHECK(whole.frames->len == chunked.frames->len);
    if (!whole.failed)
        CHECK(whole.heartbeats == chunked.heartbeats);
    for (guint i = 0; i < whole.frames->len; i++) {
        const VdStompFrame *frame = whole.frames->pdata[i];

        CHECK(fuzzFrameEqual(frame, chunked.frames->pdata[i], FALSE));
        fuzzRoundTrip(frame);
    }

    fuzzResultClear(&whole);
    fuzzResultClear(&chunked);
    return 0;
}
