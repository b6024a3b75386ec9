/*
 * sim-evidence: writes simulated evidence to a file, for tests of the
 * commands that take evidence from files (`keygate policy explain`).
 *   sim-evidence snp|tdx SIM_DIR MEASUREMENT_HEX OUT [debug] [vmpl=N]
 * SEV-SNP: report || certificate table; TDX: the quote (MRTD = measurement).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../attest/snp_sim.h"
#include "../../attest/tdx_sim.h"
#include "../../common/util.h"

int main(int argc, char **argv)
{
	uint8_t report_data[64] = {0}, m[48], *ev = NULL;
	size_t len = 0;
	kg_err e;

	if (argc < 5 || kg_unhex(m, sizeof m, argv[3]) != KG_OK) {
		fprintf(stderr, "usage: sim-evidence snp|tdx SIM_DIR MEASUREMENT_HEX(48 bytes) OUT [debug] [vmpl=N]\n");
		return 2;
	}
	if (strcmp(argv[1], "snp") == 0) {
		struct kg_snp_sim_params p = kg_snp_sim_params_default();
		memcpy(p.measurement, m, sizeof m);
		for (int i = 5; i < argc; i++) {
			if (strcmp(argv[i], "debug") == 0)
				p.policy |= 1ull << 19;
			else if (strncmp(argv[i], "vmpl=", 5) == 0)
				p.vmpl = (uint32_t)atoi(argv[i] + 5);
		}
		e = kg_snp_sim_attest(argv[2], &p, report_data, &ev, &len);
	} else {
		struct kg_tdx_sim_params p = kg_tdx_sim_params_default();
		memcpy(p.mr_td, m, sizeof m);
		for (int i = 5; i < argc; i++)
			if (strcmp(argv[i], "debug") == 0)
				p.td_attributes |= KG_TDX_TD_ATTR_DEBUG;
		e = kg_tdx_sim_quote(argv[2], &p, report_data, &ev, &len);
	}
	if (e != KG_OK || kg_file_write(argv[4], ev, len, 0644) != KG_OK) {
		fprintf(stderr, "sim-evidence: %s\n", kg_err_code(e));
		free(ev);
		return 1;
	}
	free(ev);
	return 0;
}
