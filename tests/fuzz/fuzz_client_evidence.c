/* Fuzz target: kg_evidence_check and kg_sev_guest_report (client/evidence.c),
 * the checks keygate-client applies to what the CVM's kernel hands back
 * (configfs-tsm outblob ‖ auxblob, a /dev/sev-guest MSG_REPORT_RSP).
 * Input: one selector byte (0 SEV-SNP evidence, 1 TDX quote, 2
 * MSG_REPORT_RSP), 64 bytes of expected REPORT_DATA, then the kernel's
 * bytes.  Corpus: blobs from the SEV-SNP and TDX simulators (through
 * fake_tsm) and cut or altered ones, in corpus/fuzz_client_evidence. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../attest/ratls.h"
#include "../../attest/snp.h"
#include "../../client/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ev, *report;
	size_t len;

	if (size < 65)
		return 0;
	ev = data + 65;
	len = size - 65;
	switch (data[0] % 3) {
	case 0:
		if (kg_evidence_check(KG_RATLS_TAG_SNP, ev, len, data + 1) == KG_OK &&
		    (len < KG_SNP_REPORT_SIZE || memcmp(ev + 0x50, data + 1, 64) != 0))
			__builtin_trap();
		break;
	case 1:
		(void)!kg_evidence_check(KG_RATLS_TAG_INTEL_QUOTE, ev, len, data + 1);
		break;
	case 2:
		if (kg_sev_guest_report(ev, len, &report) == KG_OK) {
			/* The report lies inside the response, after its header. */
			if (report != ev + KG_SNP_MSG_REPORT_RSP_HDR || len < KG_SNP_MSG_REPORT_RSP_HDR + KG_SNP_REPORT_SIZE)
				__builtin_trap();
		} else if (report != NULL) {
			__builtin_trap();
		}
		break;
	}
	return 0;
}
