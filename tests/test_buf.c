/*
 * test_buf.c: the capped byte buffer (src/buf.c).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

static void
test_init_and_append(void)
{
	struct buf	 b;

	buf_init(&b, 16);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "init: empty, no data");
	is_int(b.max, 16, "init: max recorded");

	is_int(buf_append(&b, "", 0), 0, "zero-length append on empty buf");
	ok(b.data != NULL && b.data[0] == '\0',
	    "zero-length append leaves a NUL-terminated empty string");
	is_int(b.len, 0, "zero-length append: len 0");

	is_int(buf_append(&b, "abc", 3), 0, "append 3 bytes");
	is_int(b.len, 3, "len 3");
	is_str(b.data, "abc", "data NUL-terminated after append");
	is_int(buf_append(&b, "xyz", 0), 0, "zero-length append on data");
	is_str(b.data, "abc", "zero-length append changes nothing");

	is_int(buf_addstr(&b, "defghijklmnop"), 0, "fill up to exactly max");
	is_int(b.len, 16, "len == max");
	is_str(b.data, "abcdefghijklmnop", "data at max, NUL-terminated");
	ok(b.cap >= b.len + 1, "cap leaves room for the NUL");

	is_int(buf_append(&b, "q", 1), -1, "append 1 byte past max fails");
	is_int(b.len, 16, "failed append leaves len");
	is_str(b.data, "abcdefghijklmnop", "failed append leaves data intact");
	is_int(buf_append(&b, "", 0), 0, "zero-length append at max is fine");
	is_int(buf_printf(&b, "%d", 7), -1, "printf past max fails");
	is_str(b.data, "abcdefghijklmnop", "failed printf leaves data intact");
	is_int(buf_printf(&b, "%s", ""), 0, "empty printf at max is fine");

	buf_reset(&b);
	is_int(b.len, 0, "reset: len 0");
	is_str(b.data, "", "reset: empty string");
	is_int(buf_append(&b, "0123456789abcdefX", 17), -1,
	    "single append larger than max fails");
	is_int(b.len, 0, "oversize append leaves len 0");
	is_str(b.data, "", "oversize append leaves data empty");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "free: empty again");
	buf_free(&b);
	ok(1, "double free is harmless");
}

static void
test_overflow_math(void)
{
	struct buf	 b;

	buf_init(&b, 8);
	is_int(buf_append(&b, "abcd", 4), 0, "append 4 of 8");
	/* a length near SIZE_MAX must not wrap the cap check */
	is_int(buf_append(&b, "x", (size_t)-1), -1, "SIZE_MAX length refused");
	is_int(buf_append(&b, "x", (size_t)-1 - 2), -1,
	    "SIZE_MAX-2 length refused");
	is_str(b.data, "abcd", "data intact after huge lengths");
	buf_free(&b);

	buf_init(&b, 0);
	is_int(buf_append(&b, "", 0), 0, "max 0: empty append ok");
	is_int(buf_append(&b, "a", 1), -1, "max 0: any byte refused");
	is_str(b.data, "", "max 0: empty string");
	buf_free(&b);
}

static void
test_printf(void)
{
	struct buf	 b;
	char		 big[300];

	buf_init(&b, 1024);
	is_int(buf_printf(&b, "%s=%d", "a", 42), 0, "printf ok");
	is_str(b.data, "a=42", "printf output");
	is_int(buf_printf(&b, "&%s=%05.1f", "b", 2.5), 0, "printf appends");
	is_str(b.data, "a=42&b=002.5", "printf appended output");
	is_int(b.len, strlen("a=42&b=002.5"), "len matches strlen");

	/* grow past the initial allocation */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(buf_printf(&b, "%s", big), 0, "printf grows the buffer");
	is_int(b.len, 12 + 299, "len after growth");
	ok(b.data[b.len] == '\0', "NUL after growth");
	ok(memcmp(b.data, "a=42&b=002.5zzz", 15) == 0,
	    "old bytes kept on growth");
	buf_free(&b);

	buf_init(&b, 5);
	is_int(buf_printf(&b, "%s", "12345"), 0, "printf exactly max");
	is_str(b.data, "12345", "printf exactly max: output");
	buf_reset(&b);
	is_int(buf_printf(&b, "%s", "123456"), -1, "printf over max fails");
	is_int(b.len, 0, "failed printf: len unchanged");
	buf_free(&b);
}

static void
test_binary(void)
{
	struct buf	 b;
	const char	 bin[] = { 'a', '\0', 'b', '\0' };

	buf_init(&b, 64);
	is_int(buf_append(&b, bin, 3), 0, "append bytes with embedded NUL");
	is_int(b.len, 3, "len counts the embedded NUL");
	ok(memcmp(b.data, bin, 3) == 0 && b.data[3] == '\0',
	    "bytes kept, terminated");
	buf_free(&b);
}

static void
test_take(void)
{
	struct buf	 b;
	size_t		 len = 99;
	char		*p;

	buf_init(&b, 64);
	buf_addstr(&b, "hello");
	p = buf_take(&b, &len);
	is_str(p, "hello", "take returns the bytes");
	is_int(len, 5, "take returns the length");
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "take empties the buf");
	free(p);
	is_int(buf_addstr(&b, "again"), 0, "buf reusable after take");
	is_str(b.data, "again", "reused buf content");
	is_int(b.max, 64, "max kept after take");
	p = buf_take(&b, NULL);
	is_str(p, "again", "take with NULL len");
	free(p);

	len = 99;
	p = buf_take(&b, &len);
	ok(p != NULL, "take of an empty buf returns a string");
	is_str(p, "", "take of an empty buf: empty string");
	is_int(len, 0, "take of an empty buf: len 0");
	free(p);
	buf_free(&b);
}

static void
test_wipe(void)
{
	struct buf	 b;

	buf_init(&b, 64);
	buf_addstr(&b, "s3cr3t");
	buf_wipe(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "wipe frees and empties");
	buf_wipe(&b);
	ok(1, "wipe of an empty buf is harmless");
	is_int(buf_addstr(&b, "x"), 0, "buf reusable after wipe");
	is_str(b.data, "x", "reused after wipe");
	buf_free(&b);
}

int
main(void)
{
	plan_lazy();
	test_init_and_append();
	test_overflow_math();
	test_printf();
	test_binary();
	test_take();
	test_wipe();
	return (done_testing());
}
