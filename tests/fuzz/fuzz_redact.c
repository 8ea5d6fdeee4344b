/*
 * fuzz_redact.c: libFuzzer harness for redact_copy() (src/redact.c), which
 * sees every token-endpoint and API error text before it is shown.
 *
 * Input: byte 0 = secret length (mod 24), then the secret (bytes mapped to
 * digits, so it can never be part of the mark or a field name), then the
 * text. Output buffer size = byte 1 of the text region (mod 64) + 1.
 * Invariants: the output is NUL-terminated inside its buffer and the
 * returned length is where the NUL is; a secret of 4 or more digits never
 * appears in plain form in the output; the input is left unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "redact.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 secret[32], *text, *copy, out[4096], small[65];
	const char	*secrets[1] = { secret };
	size_t		 n, len, r, outlen;

	if (size < 2)
		return (0);
	n = data[0] % 24;
	if (1 + n >= size)
		return (0);
	for (size_t i = 0; i < n; i++)
		secret[i] = (char)('0' + data[1 + i] % 10);
	secret[n] = '\0';
	len = size - 1 - n;
	text = fuzz_dup(data + 1 + n, len);
	copy = fuzz_dup(text, len);
	r = redact_copy(out, sizeof(out), text, len, secrets, 1);
	FUZZ_CHECK(r < sizeof(out) && out[r] == '\0');
	if (n >= 4 && memchr(text, '\0', len) == NULL)
		FUZZ_CHECK(strstr(out, secret) == NULL);
	outlen = (size_t)(unsigned char)text[0] % 64 + 1;
	r = redact_copy(small, outlen, text, len, secrets, 1);
	FUZZ_CHECK(r < outlen && small[r] == '\0');
	FUZZ_CHECK(memcmp(text, copy, len) == 0);
	free(text);
	free(copy);
	return (0);
}
