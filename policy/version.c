/* Which key version a policy releases (policy.h).  Pure, like decide.c. */
#include "policy.h"

/* The policy's rule for one version.  No rule at all: only the newest
 * active version, so that a rotation retires the old version by default. */
static bool allowed(const struct kg_policy *p, uint32_t version, uint32_t newest_active)
{
	bool in_list = p->n_allowed_versions == 0;

	if (p->n_allowed_versions == 0 && p->min_version == 0)
		return version == newest_active;
	for (size_t i = 0; i < p->n_allowed_versions && i < KG_POLICY_MAX_VERSIONS; i++)
		in_list |= p->allowed_versions[i] == version;
	return in_list && version >= p->min_version;
}

static kg_err state_err(enum kg_version_state s)
{
	switch (s) {
	case KG_VERSION_ACTIVE:
		return KG_OK;
	case KG_VERSION_DISABLED:
		return KG_ERR_KEY_VERSION_DISABLED;
	case KG_VERSION_DESTROYED:
		return KG_ERR_KEY_VERSION_DESTROYED;
	}
	return KG_ERR_INTERNAL;
}

kg_err kg_policy_pick_version(const struct kg_policy *p, const struct kg_version_info *v, size_t n,
			      uint32_t requested, uint32_t *out)
{
	uint32_t newest_active = 0, best = 0;
	const struct kg_version_info *newest = NULL;

	*out = 0;
	if (n == 0)
		return KG_ERR_KEY_MISSING;
	for (size_t i = 0; i < n; i++) {
		if (v[i].state == KG_VERSION_ACTIVE && v[i].version > newest_active)
			newest_active = v[i].version;
		if (!newest || v[i].version > newest->version)
			newest = &v[i];
	}
	if (requested != 0) {
		for (size_t i = 0; i < n; i++) {
			if (v[i].version != requested)
				continue;
			KG_TRY(state_err(v[i].state));
			KG_ENSURE(allowed(p, requested, newest_active), KG_ERR_KEY_VERSION_NOT_ALLOWED);
			*out = requested;
			return KG_OK;
		}
		return KG_ERR_KEY_VERSION_UNKNOWN;
	}
	/* Nothing active: say why the newest version cannot be had. */
	if (newest_active == 0)
		return state_err(newest->state);
	for (size_t i = 0; i < n; i++)
		if (v[i].state == KG_VERSION_ACTIVE && v[i].version > best && allowed(p, v[i].version, newest_active))
			best = v[i].version;
	KG_ENSURE(best != 0, KG_ERR_KEY_VERSION_NOT_ALLOWED);
	*out = best;
	return KG_OK;
}
