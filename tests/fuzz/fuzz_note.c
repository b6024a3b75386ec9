/* Fuzz target: kg_ledger_note_parse, kg_ledger_note_verify and
 * kg_ledger_checkpoint_parse (ledger/note.c, ledger/checkpoint.c): C2SP
 * signed notes and checkpoints, with Ed25519 (0x01) and timestamped
 * cosignature (0x04) keys known.  Corpus: every note in shared/vectors/note
 * (valid, negative and parse-only) and a cosigned keygate-ledger
 * checkpoint, in corpus/fuzz_note. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../ledger/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *vkeys[] = {
	"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	"EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
	"sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
	"example.com/keygate-fuzz+b7209a29+AQZP9G7g8QrNKAAUOOUpcldcq6lX4H05vu1EOY7eQA7l",
	"witness1.example+74e5d0b1+BBxQ3b14r2m3ec0aG+J30QU93f2uLJuDLVonQxvKz0Vr",
	"witness2.example+2c0c8311+BJKyqvw2+rr3cfSXmvO0nb6aZJcZb/0sK6c1fDISV5Tj",
};
#define NKEYS (sizeof vkeys / sizeof vkeys[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kg_ledger_key keys[NKEYS];
	static int loaded;
	struct kg_ledger_note_check checks[NKEYS];
	struct kg_ledger_checkpoint cp;
	struct kg_ledger_note *note;
	kg_err e;

	if (!loaded) {
		for (size_t i = 0; i < NKEYS; i++)
			if (kg_ledger_vkey_parse(vkeys[i], &keys[i]) != KG_OK)
				__builtin_trap();
		loaded = 1;
	}
	if (!(note = malloc(sizeof *note)))
		return 0;
	e = kg_ledger_note_parse(data, size, note);
	if (e == KG_OK) {
		/* Views stay inside the input. */
		if (kg_cur_left(&note->text) > size || note->nsigs == 0 || note->nsigs > KG_LEDGER_MAX_SIGS)
			__builtin_trap();
		e = kg_ledger_note_verify(note, keys, NKEYS, checks);
		if (e != KG_OK && e != KG_ERR_LEDGER_BAD_SIGNATURE && e != KG_ERR_LEDGER_UNKNOWN_KEY &&
		    e != KG_ERR_NOMEM)
			__builtin_trap();
		if (kg_ledger_checkpoint_parse(note->text, &cp) == KG_OK && kg_cur_left(&cp.origin) == 0)
			__builtin_trap();
	} else if (e != KG_ERR_LEDGER_NOTE_MALFORMED && e != KG_ERR_TOO_LARGE && e != KG_ERR_NOMEM) {
		__builtin_trap();
	}
	free(note);
	return 0;
}
