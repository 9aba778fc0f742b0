/* test-stomp-frame.c - unit tests of the STOMP 1.2 codec (stomp-frame.c).
 *
 * DESIGN: single-threaded GLib gtest program.  Every case builds wire bytes
 * by hand (so the expected encoding is spelled out, not derived from the
 * code under test), feeds them in various splits and checks the exact
 * frames, heart-beat counts and error messages.
 */
#include <string.h>
#include <time.h>

#include "stomp-frame.h"
#include "vd-error.h"

#define BIG_LIMIT (16 * 1024 * 1024)

/* A literal with embedded NULs: (pointer, length without the C NUL). */
#define LIT(s) (s), (sizeof(s) - 1)

static void
assertFrameEqual(const VdStompFrame *a, const VdStompFrame *b)
{
    g_assert_cmpstr(a->command, ==, b->command);
    g_assert_cmpuint(a->headers->len, ==, b->headers->len);
    for (guint i = 0; i < a->headers->len; i++) {
        const VdStompHeader *ha = &g_array_index(a->headers, VdStompHeader, i);
        const VdStompHeader *hb = &g_array_index(b->headers, VdStompHeader, i);

        g_assert_cmpstr(ha->key, ==, hb->key);
        g_assert_cmpstr(ha->value, ==, hb->value);
    }
    g_assert_cmpmem(a->body, a->body_len, b->body, b->body_len);
    g_assert_cmpint(a->body[a->body_len], ==, '\0');
    g_assert_cmpint(b->body[b->body_len], ==, '\0');
}

static void
assertHeader(const VdStompFrame *frame, guint i, const char *key, const char *value)
{
    const VdStompHeader *h;

    g_assert_cmpuint(i, <, frame->headers->len);
    h = &g_array_index(frame->headers, VdStompHeader, i);
    g_assert_cmpstr(h->key, ==, key);
    g_assert_cmpstr(h->value, ==, value);
}

/* Feed @data in pieces given by @cuts (ascending offsets, @ncuts of them);
 * returns all frames popped, or NULL with @error set.  @heartbeats gets the
 * number of heart-beats seen. */
static GPtrArray *
parseCuts(const char *data, gsize len, const gsize *cuts, gsize ncuts, gsize max_frame,
          gsize max_header, guint *heartbeats, GError **error)
{
    g_autoptr(VdStompParser) parser = vdStompParserNew(max_frame, max_header);
    g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func((GDestroyNotify)vdStompFrameFree);
    gsize pos = 0;
    guint beats = 0;
    VdStompFrame *frame;

    for (gsize i = 0; i <= ncuts; i++) {
        gsize end = i < ncuts ? cuts[i] : len;

        g_assert_cmpuint(end, >=, pos);
        if (vdStompParserFeed(parser, data + pos, end - pos, error) < 0)
            return NULL;
        while ((frame = vdStompParserPop(parser)))
            g_ptr_array_add(frames, frame);
        beats += vdStompParserTakeHeartbeats(parser);
        pos = end;
    }
    if (heartbeats)
        *heartbeats = beats;
    return g_steal_pointer(&frames);
}

static GPtrArray *
parseAll(const char *data, gsize len, guint *heartbeats, GError **error)
{
    return parseCuts(data, len, NULL, 0, BIG_LIMIT, BIG_LIMIT, heartbeats, error);
}

/* Parse one complete frame; no bytes left over, no heart-beats. */
static VdStompFrame *
parseOne(const char *data, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) frames = NULL;
    guint beats = 99;

    frames = parseAll(data, len, &beats, &error);
    g_assert_no_error(error);
    g_assert_nonnull(frames);
    g_assert_cmpuint(frames->len, ==, 1);
    g_assert_cmpuint(beats, ==, 0);
    return g_ptr_array_steal_index(frames, 0);
}

/* Parse @data with the limits and expect an error containing @msg. */
static void
assertParseFails(const char *data, gsize len, gsize max_frame, gsize max_header, const char *msg)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) frames = NULL;

    frames = parseCuts(data, len, NULL, 0, max_frame, max_header, NULL, &error);
    g_assert_null(frames);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    if (!strstr(error->message, msg))
        g_error("error message '%s' does not contain '%s'", error->message, msg);
}

static void
assertBytes(GBytes *bytes, const char *expect, gsize len)
{
    gsize size;
    const char *data = g_bytes_get_data(bytes, &size);

    g_assert_cmpmem(data, size, expect, len);
}

/* ---- serializer ------------------------------------------------------ */

static void
testSerializeExact(void)
{
    g_autoptr(VdStompFrame) frame = vdStompFrameNew("SEND");
    g_autoptr(GBytes) bytes = NULL;
    static const char expect[] = "SEND\n"
                                 "destination:jms.topic.vdsm_requests\n"
                                 "reply-to:jms.topic.vdsm_responses\n"
                                 "content-length:5\n"
                                 "\n"
                                 "[1,2]";

    vdStompFrameAddHeader(frame, "destination", "jms.topic.vdsm_requests");
    vdStompFrameAddHeader(frame, "reply-to", "jms.topic.vdsm_responses");
    vdStompFrameSetBody(frame, "[1,2]", 5);
    bytes = vdStompFrameSerialize(frame);
    /* sizeof(expect) includes the frame's terminating NUL. */
    assertBytes(bytes, expect, sizeof(expect));
}

static void
testSerializeNoBody(void)
{
    g_autoptr(VdStompFrame) frame = vdStompFrameNew("CONNECTED");
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(VdStompFrame) empty = vdStompFrameNew("DISCONNECT");
    g_autoptr(GBytes) empty_bytes = NULL;
    static const char expect[] = "CONNECTED\nversion:1.2\nheart-beat:24000,0\n\n";

    vdStompFrameAddHeader(frame, "version", "1.2");
    vdStompFrameAddHeader(frame, "heart-beat", "24000,0");
    /* A content-length from the caller is dropped; none is added for no body. */
    vdStompFrameAddHeader(frame, "content-length", "17");
    bytes = vdStompFrameSerialize(frame);
    assertBytes(bytes, expect, sizeof(expect));

    g_assert_cmpuint(empty->body_len, ==, 0);
    g_assert_cmpstr(empty->body, ==, "");
    empty_bytes = vdStompFrameSerialize(empty);
    assertBytes(empty_bytes, LIT("DISCONNECT\n\n\0"));
}

static void
testEncode(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    const char *const headers[] = {
        "destination", "a:b", "content-length", "999", "id", "x", NULL,
    };
    static const char expect[] = "MESSAGE\ndestination:a\\cb\nid:x\ncontent-length:3\n\na\0b";

    /* vdStompEncode appends: what is already in @out stays. */
    g_byte_array_append(out, (const guint8 *)"prefix", 6);
    vdStompEncode(out, "MESSAGE", headers, "a\0b", 3);
    g_assert_cmpuint(out->len, ==, 6 + sizeof(expect));
    g_assert_cmpmem(out->data, 6, "prefix", 6);
    g_assert_cmpmem(out->data + 6, out->len - 6, expect, sizeof(expect));

    g_byte_array_set_size(out, 0);
    vdStompEncode(out, "RECEIPT", NULL, NULL, 0);
    g_assert_cmpmem(out->data, out->len, "RECEIPT\n\n\0", 10);
}

static void
testEscapeEncode(void)
{
    g_autoptr(VdStompFrame) frame = vdStompFrameNew("SEND");
    g_autoptr(GBytes) bytes = NULL;
    static const char expect[] = "SEND\nk\\ce\\\\y:v\\ca\\rl\\nu\\\\e\\c\n\n";

    vdStompFrameAddHeader(frame, "k:e\\y", "v:a\rl\nu\\e:");
    bytes = vdStompFrameSerialize(frame);
    assertBytes(bytes, expect, sizeof(expect));
}

/* ---- parser: good input ---------------------------------------------- */

static void
testRoundTrip(void)
{
    g_autoptr(VdStompFrame) frame = vdStompFrameNew("SEND");
    g_autoptr(VdStompFrame) parsed = NULL;
    g_autoptr(GBytes) bytes = NULL;
    gsize size;
    const char *data;

    vdStompFrameAddHeader(frame, "destination", "jms.topic.vdsm_requests");
    vdStompFrameAddHeader(frame, "weird:key\\", "line1\nline2\r:\\n");
    vdStompFrameAddHeader(frame, "empty", "");
    vdStompFrameAddHeader(frame, "utf8", "h\xc3\xa9llo");
    vdStompFrameSetBody(frame, "{\"a\":1}\0tail", 12);
    bytes = vdStompFrameSerialize(frame);
    data = g_bytes_get_data(bytes, &size);

    parsed = parseOne(data, size);
    g_assert_cmpstr(parsed->command, ==, "SEND");
    g_assert_cmpuint(parsed->headers->len, ==, 5);
    assertHeader(parsed, 0, "destination", "jms.topic.vdsm_requests");
    assertHeader(parsed, 1, "weird:key\\", "line1\nline2\r:\\n");
    assertHeader(parsed, 2, "empty", "");
    assertHeader(parsed, 3, "utf8", "h\xc3\xa9llo");
    assertHeader(parsed, 4, "content-length", "12");
    g_assert_cmpmem(parsed->body, parsed->body_len, "{\"a\":1}\0tail", 12);
    g_assert_cmpstr(vdStompFrameGetHeader(parsed, "weird:key\\"), ==, "line1\nline2\r:\\n");
    g_assert_null(vdStompFrameGetHeader(parsed, "missing"));
}

static void
testEscapeDecode(void)
{
    g_autoptr(VdStompFrame) frame =
        parseOne(LIT("SEND\nk\\ce\\\\y:v\\ca\\rl\\nu\\\\e\\c\n\\\\:\\n\n\n\0"));

    g_assert_cmpuint(frame->headers->len, ==, 2);
    assertHeader(frame, 0, "k:e\\y", "v:a\rl\nu\\e:");
    assertHeader(frame, 1, "\\", "\n");
    g_assert_cmpuint(frame->body_len, ==, 0);
}

static void
testContentLengthEmbeddedNul(void)
{
    g_autoptr(VdStompFrame) frame =
        parseOne(LIT("MESSAGE\ncontent-length:7\nsubscription:s1\n\n\0ab\0\0cd\0"));

    g_assert_cmpstr(frame->command, ==, "MESSAGE");
    g_assert_cmpuint(frame->body_len, ==, 7);
    g_assert_cmpmem(frame->body, frame->body_len, "\0ab\0\0cd", 7);
    g_assert_cmpstr(vdStompFrameGetHeader(frame, "subscription"), ==, "s1");
}

static void
testContentLengthZero(void)
{
    g_autoptr(VdStompFrame) frame = parseOne(LIT("SEND\ncontent-length:0\n\n\0"));

    g_assert_cmpuint(frame->body_len, ==, 0);
    g_assert_cmpstr(frame->body, ==, "");
}

static void
testBodyWithoutContentLength(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) frames = NULL;
    VdStompFrame *frame;

    frames = parseAll(LIT("SEND\ndestination:q\n\nhello world\0ERROR\n\n\0"), NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(frames->len, ==, 2);
    frame = frames->pdata[0];
    g_assert_cmpstr(frame->command, ==, "SEND");
    g_assert_cmpuint(frame->body_len, ==, 11);
    g_assert_cmpstr(frame->body, ==, "hello world");
    frame = frames->pdata[1];
    g_assert_cmpstr(frame->command, ==, "ERROR");
    g_assert_cmpuint(frame->headers->len, ==, 0);
    g_assert_cmpuint(frame->body_len, ==, 0);
}

static void
testTrailingCR(void)
{
    g_autoptr(VdStompFrame) frame =
        parseOne(LIT("CONNECT\r\naccept-version:1.2\r\nheart-beat:0,24000\r\n\r\n\0"));

    g_assert_cmpstr(frame->command, ==, "CONNECT");
    g_assert_cmpuint(frame->headers->len, ==, 2);
    assertHeader(frame, 0, "accept-version", "1.2");
    assertHeader(frame, 1, "heart-beat", "0,24000");
}

static void
testRepeatedHeaderFirstWins(void)
{
    g_autoptr(VdStompFrame) frame = parseOne(LIT("SEND\nid:first\nid:second\nx:1\n\n\0"));

    g_assert_cmpstr(vdStompFrameGetHeader(frame, "id"), ==, "first");
    g_assert_cmpuint(frame->headers->len, ==, 3);
    assertHeader(frame, 1, "id", "second");

    /* The first content-length decides the body too. */
    g_autoptr(VdStompFrame) cl = parseOne(LIT("SEND\ncontent-length:2\ncontent-length:5\n\na\0\0"));
    g_assert_cmpuint(cl->body_len, ==, 2);
    g_assert_cmpmem(cl->body, cl->body_len, "a\0", 2);
}

static void
testHeartbeats(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) frames = NULL;
    guint beats = 0;
    g_autoptr(VdStompParser) parser = vdStompParserNew(1024, 1024);

    frames = parseAll(LIT("\n\r\n\nSEND\n\nx\0\n\r\n"
                          "SEND\n\ny\0\n"),
                      &beats, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(frames->len, ==, 2);
    g_assert_cmpuint(beats, ==, 6);
    g_assert_cmpstr(((VdStompFrame *)frames->pdata[1])->body, ==, "y");

    /* The count is reset by each take. */
    g_assert_cmpint(vdStompParserFeed(parser, "\n\n", 2, &error), ==, 0);
    g_assert_cmpuint(vdStompParserTakeHeartbeats(parser), ==, 2);
    g_assert_cmpuint(vdStompParserTakeHeartbeats(parser), ==, 0);
    /* A lone '\r' is not a heart-beat until its '\n' comes. */
    g_assert_cmpint(vdStompParserFeed(parser, "\r", 1, &error), ==, 0);
    g_assert_cmpuint(vdStompParserTakeHeartbeats(parser), ==, 0);
    g_assert_cmpint(vdStompParserFeed(parser, "\n", 1, &error), ==, 0);
    g_assert_cmpuint(vdStompParserTakeHeartbeats(parser), ==, 1);
    g_assert_null(vdStompParserPop(parser));
    g_assert_no_error(error);
}

/* A stream exercising every parser state, used for the split tests. */
static const char splitStream[] =
    "\n"
    "CONNECT\r\naccept-version:1.2\r\nheart-beat:0,24000\r\n\r\n\0"
    "\r\n"
    "SUBSCRIBE\ndestination:jms.queue.events\nack:auto\nid:a\\cb\n\n\0"
    "SEND\ncontent-length:5\ndestination:q\n\na\0b\0c\0"
    "\n\n"
    "SEND\nreply-to:r\n\nno length body\0"
    "DISCONNECT\nreceipt:1\n\n\0\n";

static void
checkSplitResult(GPtrArray *frames, guint beats, GPtrArray *reference)
{
    g_assert_nonnull(frames);
    g_assert_cmpuint(frames->len, ==, reference->len);
    for (guint i = 0; i < frames->len; i++)
        assertFrameEqual(frames->pdata[i], reference->pdata[i]);
    g_assert_cmpuint(beats, ==, 5);
}

static void
testSplitEveryByte(void)
{
    gsize len = sizeof(splitStream) - 1;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) reference = NULL;
    g_autoptr(GPtrArray) bytewise = NULL;
    g_autofree gsize *cuts = g_new(gsize, len);
    guint beats = 0;

    reference = parseAll(splitStream, len, &beats, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(reference->len, ==, 5);
    g_assert_cmpuint(beats, ==, 5);
    g_assert_cmpstr(((VdStompFrame *)reference->pdata[0])->command, ==, "CONNECT");
    assertHeader(reference->pdata[1], 2, "id", "a:b");
    g_assert_cmpmem(((VdStompFrame *)reference->pdata[2])->body,
                    ((VdStompFrame *)reference->pdata[2])->body_len, "a\0b\0c", 5);
    g_assert_cmpstr(((VdStompFrame *)reference->pdata[3])->body, ==, "no length body");
    g_assert_cmpstr(((VdStompFrame *)reference->pdata[4])->command, ==, "DISCONNECT");

    /* One byte at a time. */
    for (gsize i = 0; i < len; i++)
        cuts[i] = i + 1;
    bytewise = parseCuts(splitStream, len, cuts, len, BIG_LIMIT, BIG_LIMIT, &beats, &error);
    g_assert_no_error(error);
    checkSplitResult(bytewise, beats, reference);

    /* Every 2-way split. */
    for (gsize cut = 0; cut <= len; cut++) {
        g_autoptr(GPtrArray) frames = NULL;

        frames = parseCuts(splitStream, len, &cut, 1, BIG_LIMIT, BIG_LIMIT, &beats, &error);
        g_assert_no_error(error);
        checkSplitResult(frames, beats, reference);
    }

    /* Every 3-way split. */
    for (gsize a = 0; a <= len; a++) {
        for (gsize b = a; b <= len; b++) {
            gsize two[2] = {a, b};
            g_autoptr(GPtrArray) frames = NULL;

            frames = parseCuts(splitStream, len, two, 2, BIG_LIMIT, BIG_LIMIT, &beats, &error);
            g_assert_no_error(error);
            checkSplitResult(frames, beats, reference);
        }
    }
}

static void
testManyFrames(void)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) frames = NULL;
    const guint count = 20000;
    guint beats = 0;

    for (guint i = 0; i < count; i++) {
        g_autofree char *id = g_strdup_printf("%u", i);
        const char *const headers[] = {"id", id, NULL};

        vdStompEncode(stream, "MESSAGE", headers, id, strlen(id));
        if (i % 2)
            g_byte_array_append(stream, (const guint8 *)"\n", 1);
    }
    frames = parseAll((const char *)stream->data, stream->len, &beats, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(frames->len, ==, count);
    g_assert_cmpuint(beats, ==, count / 2);
    for (guint i = 0; i < count; i++) {
        g_autofree char *id = g_strdup_printf("%u", i);
        VdStompFrame *frame = frames->pdata[i];

        g_assert_cmpstr(frame->command, ==, "MESSAGE");
        g_assert_cmpstr(vdStompFrameGetHeader(frame, "id"), ==, id);
        g_assert_cmpstr(frame->body, ==, id);
    }
}

/* A large body arriving in small pieces must not be rescanned each time:
 * rescanning makes this take about a minute, a linear parser 0.05 s.  Set
 * VD_TEST_NO_TIMING=1 to skip the time check (valgrind). */
static void
testLargeBodySmallPieces(void)
{
    const gsize body_len = 4 * 1024 * 1024;
    const gsize piece = 3;
    g_autofree char *body = g_malloc(body_len);
    g_autoptr(VdStompParser) parser = vdStompParserNew(8 * 1024 * 1024, 4096);
    g_autoptr(GError) error = NULL;
    g_autoptr(VdStompFrame) frame = NULL;
    static const char head[] = "SEND\ndestination:q\n\n";
    clock_t begin = clock();
    double cpu;

    memset(body, 'x', body_len);
    g_assert_cmpint(vdStompParserFeed(parser, head, sizeof(head) - 1, &error), ==, 0);
    for (gsize off = 0; off < body_len; off += piece) {
        g_assert_cmpint(vdStompParserFeed(parser, body + off, MIN(piece, body_len - off), &error),
                        ==, 0);
    }
    g_assert_null(vdStompParserPop(parser));
    g_assert_cmpint(vdStompParserFeed(parser, "", 1, &error), ==, 0);
    g_assert_no_error(error);
    frame = vdStompParserPop(parser);
    g_assert_nonnull(frame);
    g_assert_cmpuint(frame->body_len, ==, body_len);
    g_assert_cmpmem(frame->body, frame->body_len, body, body_len);

    cpu = (double)(clock() - begin) / CLOCKS_PER_SEC;
    g_test_message("4 MiB body in %zu-byte pieces: %.3f s CPU", piece, cpu);
    if (!g_getenv("VD_TEST_NO_TIMING"))
        g_assert_cmpfloat(cpu, <, 3.0);
}

/* ---- parser: bad input ----------------------------------------------- */

static void
testUnknownEscape(void)
{
    assertParseFails(LIT("SEND\nkey:va\\tlue\n\n\0"), 0, 0, "invalid header escape '\\t'");
    assertParseFails(LIT("SEND\nk\\x:v\n\n\0"), 0, 0, "invalid header escape '\\x'");
    assertParseFails(LIT("SEND\nkey:value\\\n\n\0"), 0, 0, "invalid header escape");
    assertParseFails(LIT("SEND\nkey:a\\\r\n\n\0"), 0, 0, "invalid header escape");
}

static void
testRawColon(void)
{
    assertParseFails(LIT("SEND\ndestination:a:b\n\n\0"), 0, 0, "raw ':' in header value");
    assertParseFails(LIT("SEND\nkey::\n\n\0"), 0, 0, "raw ':' in header value");
}

static void
testBadHeaderLines(void)
{
    assertParseFails(LIT("SEND\nno colon here\n\n\0"), 0, 0, "header line without ':'");
    assertParseFails(LIT("SEND\n:value\n\n\0"), 0, 0, "empty header name");
    assertParseFails(LIT("SEND\nk:v\0x\n\n\0"), 0, 0, "NUL byte in header line");
    assertParseFails(LIT("SEND\nk:a\rb\n\n\0"), 0, 0, "raw CR in header line");
    assertParseFails(LIT("SEND\nk:\xff\xfe\n\n\0"), 0, 0, "not valid UTF-8");
    /* A frame without the blank line: the NUL lands in a header line. */
    assertParseFails(LIT("CONNECT\n\0"), 0, 0, "NUL byte in header line");
}

static void
testGarbageCommand(void)
{
    assertParseFails(LIT("send\n\n\0"), 0, 0, "invalid command: unexpected character 's'");
    assertParseFails(LIT("SEND X\n\n\0"), 0, 0, "invalid command: unexpected byte 0x20");
    assertParseFails(LIT("\x16\x03\x01\x02\x00"), 0, 0, "invalid command: unexpected byte 0x16");
    assertParseFails(LIT("GET / HTTP/1.1\r\n"), 0, 0, "invalid command");
    assertParseFails(LIT("SEND\r\r\n\n\0"), 0, 0, "invalid command: unexpected byte 0x0d");
    assertParseFails(LIT("\0"), 0, 0, "invalid command: unexpected byte 0x00");
    /* Garbage fails at the first bad byte, before any newline arrives. */
    assertParseFails(LIT("SEN\x80"), 0, 0, "invalid command");
}

static void
testBadContentLength(void)
{
    assertParseFails(LIT("SEND\ncontent-length:abc\n\nabc\0"), 0, 0, "invalid content-length");
    assertParseFails(LIT("SEND\ncontent-length:-1\n\n\0"), 0, 0, "invalid content-length");
    assertParseFails(LIT("SEND\ncontent-length:\n\n\0"), 0, 0, "invalid content-length");
    assertParseFails(LIT("SEND\ncontent-length: 3\n\nabc\0"), 0, 0, "invalid content-length");
    assertParseFails(LIT("SEND\ncontent-length:+3\n\nabc\0"), 0, 0, "invalid content-length");
    assertParseFails(LIT("SEND\ncontent-length:3x\n\nabc\0"), 0, 0, "invalid content-length");
}

static void
testMissingNul(void)
{
    assertParseFails(LIT("SEND\ncontent-length:3\n\nabcd\0"), 0, 0,
                     "missing NUL after body: byte 0x64 follows 3 bytes");
    assertParseFails(LIT("SEND\ncontent-length:0\n\nx"), 0, 0, "missing NUL after body");
}

static void
testLimitsExact(void)
{
    /* "SEND\n\nabc\0" is 10 bytes; its header block is 6. */
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) ok = NULL;
    g_autoptr(GPtrArray) ok2 = NULL;

    ok = parseCuts(LIT("SEND\n\nabc\0"), NULL, 0, 10, 6, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(ok->len, ==, 1);
    assertParseFails(LIT("SEND\n\nabc\0"), 9, 6, "frame too large");
    assertParseFails(LIT("SEND\n\nabc\0"), 10, 5, "frame header too large");

    /* With content-length: 27 bytes in all, a 23-byte header block. */
    ok2 = parseCuts(LIT("SEND\ncontent-length:3\n\nabc\0"), NULL, 0, 27, 23, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(ok2->len, ==, 1);
    assertParseFails(LIT("SEND\ncontent-length:3\n\nabc\0"), 26, 23,
                     "frame too large: content-length 3 exceeds the limit of 26 bytes");
    assertParseFails(LIT("SEND\ncontent-length:3\n\nabc\0"), 27, 22, "frame header too large");

    /* Heart-beats between frames do not count toward a frame. */
    {
        g_autoptr(GPtrArray) beats = NULL;
        guint n = 0;

        beats = parseCuts(LIT("\n\n\n\nSEND\n\nabc\0\n\n\n\nSEND\n\nabc\0"), NULL, 0, 10, 6, &n,
                          &error);
        g_assert_no_error(error);
        g_assert_cmpuint(beats->len, ==, 2);
        g_assert_cmpuint(n, ==, 8);
    }
}

/* Limits fail as soon as the bytes seen prove them, not when the frame ends. */
static void
testLimitsEarly(void)
{
    g_autoptr(VdStompParser) parser = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *chunk = g_malloc(4096);
    gsize fed = 0;
    static const char huge[] = "SEND\ncontent-length:99999999999999999999999999\n\n";
    static const char big[] = "SEND\ncontent-length:1048577\n\n";

    /* A content-length over max_frame fails with the blank line, no body needed. */
    parser = vdStompParserNew(1024 * 1024, 4096);
    g_assert_cmpint(vdStompParserFeed(parser, big, sizeof(big) - 1, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    g_assert_nonnull(strstr(error->message, "frame too large: content-length 1048577"));
    g_clear_error(&error);
    /* A failed parser refuses more input. */
    g_assert_cmpint(vdStompParserFeed(parser, "\n", 1, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    g_clear_error(&error);
    g_clear_pointer(&parser, vdStompParserFree);

    parser = vdStompParserNew(1024 * 1024, 4096);
    g_assert_cmpint(vdStompParserFeed(parser, huge, sizeof(huge) - 1, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    g_assert_nonnull(strstr(error->message, "frame too large"));
    g_clear_error(&error);
    g_clear_pointer(&parser, vdStompParserFree);

    /* A body without content-length fails once it outgrows max_frame. */
    parser = vdStompParserNew(64 * 1024, 4096);
    memset(chunk, 'x', 4096);
    g_assert_cmpint(vdStompParserFeed(parser, "SEND\n\n", 6, &error), ==, 0);
    while (vdStompParserFeed(parser, chunk, 4096, &error) == 0) {
        fed += 4096;
        g_assert_cmpuint(fed, <, 64 * 1024);
    }
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    g_assert_nonnull(strstr(error->message, "frame too large"));
    /* 6 header bytes + 61440 body bytes + NUL fit; the 16th chunk does not. */
    g_assert_cmpuint(fed, ==, 15 * 4096);
    g_clear_error(&error);
    g_clear_pointer(&parser, vdStompParserFree);

    /* Header lines: the limit trips before any newline comes. */
    parser = vdStompParserNew(64 * 1024, 1024);
    g_assert_cmpint(vdStompParserFeed(parser, "SEND\nk:", 7, &error), ==, 0);
    g_assert_cmpint(vdStompParserFeed(parser, chunk, 4096, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    g_assert_nonnull(strstr(error->message, "frame header too large"));
    g_clear_error(&error);
    g_clear_pointer(&parser, vdStompParserFree);

    /* A command line longer than max_header without its newline. */
    memset(chunk, 'A', 4096);
    parser = vdStompParserNew(64 * 1024, 1024);
    g_assert_cmpint(vdStompParserFeed(parser, chunk, 1023, &error), ==, 0);
    g_assert_cmpint(vdStompParserFeed(parser, chunk, 1, &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    g_assert_nonnull(strstr(error->message, "frame header too large"));
}

/* Frames completed before an error stay available. */
static void
testFramesBeforeError(void)
{
    g_autoptr(VdStompParser) parser = vdStompParserNew(1024, 1024);
    g_autoptr(GError) error = NULL;
    g_autoptr(VdStompFrame) frame = NULL;

    g_assert_cmpint(vdStompParserFeed(parser, LIT("SEND\n\nok\0bad\n"), &error), ==, -1);
    g_assert_error(error, VD_ERROR, VD_ERR_PARSE);
    frame = vdStompParserPop(parser);
    g_assert_nonnull(frame);
    g_assert_cmpstr(frame->body, ==, "ok");
    g_assert_null(vdStompParserPop(parser));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/stomp-frame/serialize/exact", testSerializeExact);
    g_test_add_func("/stomp-frame/serialize/no-body", testSerializeNoBody);
    g_test_add_func("/stomp-frame/serialize/encode", testEncode);
    g_test_add_func("/stomp-frame/serialize/escape", testEscapeEncode);
    g_test_add_func("/stomp-frame/parse/round-trip", testRoundTrip);
    g_test_add_func("/stomp-frame/parse/escape", testEscapeDecode);
    g_test_add_func("/stomp-frame/parse/content-length-nul", testContentLengthEmbeddedNul);
    g_test_add_func("/stomp-frame/parse/content-length-zero", testContentLengthZero);
    g_test_add_func("/stomp-frame/parse/no-content-length", testBodyWithoutContentLength);
    g_test_add_func("/stomp-frame/parse/trailing-cr", testTrailingCR);
    g_test_add_func("/stomp-frame/parse/repeated-header", testRepeatedHeaderFirstWins);
    g_test_add_func("/stomp-frame/parse/heartbeats", testHeartbeats);
    g_test_add_func("/stomp-frame/parse/split-every-byte", testSplitEveryByte);
    g_test_add_func("/stomp-frame/parse/many-frames", testManyFrames);
    g_test_add_func("/stomp-frame/parse/large-body-small-pieces", testLargeBodySmallPieces);
    g_test_add_func("/stomp-frame/error/unknown-escape", testUnknownEscape);
    g_test_add_func("/stomp-frame/error/raw-colon", testRawColon);
    g_test_add_func("/stomp-frame/error/bad-header-lines", testBadHeaderLines);
    g_test_add_func("/stomp-frame/error/garbage-command", testGarbageCommand);
    g_test_add_func("/stomp-frame/error/bad-content-length", testBadContentLength);
    g_test_add_func("/stomp-frame/error/missing-nul", testMissingNul);
    g_test_add_func("/stomp-frame/error/limits-exact", testLimitsExact);
    g_test_add_func("/stomp-frame/error/limits-early", testLimitsEarly);
    g_test_add_func("/stomp-frame/error/frames-before-error", testFramesBeforeError);

    return g_test_run();
}
