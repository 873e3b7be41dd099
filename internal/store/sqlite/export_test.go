package sqlite

import (
	"slices"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/store"
)

// TestExportEventWithoutAncestry: an event written before migration 0002 has no ancestry and is
// found by its resource alone; Export gives it that resource as its ancestry, so that an import
// finds it the same way.
func TestExportEventWithoutAncestry(t *testing.T) {
	ctx := t.Context()
	db := open(t, t.TempDir())
	if err := db.AppendEvents(ctx, []store.Event{
		{At: time.Unix(10, 0), Action: "old", Resource: "organization/acme", Count: 1},
		{At: time.Unix(11, 0), Action: "none", Count: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, "UPDATE events SET ancestry = NULL"); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	if err := db.Export(ctx, func(r store.Record) error {
		if r.Event != nil {
			got = append(got, r.Ancestry)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[0], []string{"organization/acme"}) || got[1] != nil {
		t.Errorf("exported ancestries %q, want [[organization/acme] []]", got)
	}
}
