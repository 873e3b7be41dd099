package sqlite

import (
	"strings"
	"testing"
)

// TestPurgeReadsTheExpiryIndex: PurgeExpired finds what it deletes through secrets_expiry, not
// by reading every secret.
func TestPurgeReadsTheExpiryIndex(t *testing.T) {
	db := open(t, t.TempDir())
	plan, err := queryPlan(t, db.w, purgeQuery, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 || !strings.HasPrefix(plan[0], "SEARCH secrets USING INDEX secrets_expiry ") {
		t.Errorf("purge plan:\n%s\nwant a search of secrets_expiry first", strings.Join(plan, "\n"))
	}
	for _, p := range plan {
		if strings.HasPrefix(p, "SCAN") {
			t.Errorf("purge plan scans: %q", p)
		}
	}
}
